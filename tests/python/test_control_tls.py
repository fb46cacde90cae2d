"""The control plane over TLS on a real cwtsd (real cwts-sim): listening on every address with a
self-signed certificate, JSON-RPC over wss:// with the bearer token, https for the HTTP endpoints,
plain clients refused, cwtsctl through the control file; and the configuration checks."""
import asyncio
import json
import os
import ssl
import subprocess
import urllib.error
import urllib.request

import pytest
import websockets

from conftest import Engine, cwtsd_binary, wait_until
from test_control import TOKEN, Rpc, control_address, ctl


def make_cert(tmp_path, name="control"):
    """A self-signed certificate for 127.0.0.1 (the address the tests connect to), and its key."""
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "1", "-subj", "/CN=cwtsd control", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def trusting(cert):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(cert))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


@pytest.fixture
def tls_engine(synthetic_sim, tmp_path):
    cert, key = make_cert(tmp_path)
    token_file = tmp_path / "control.token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    eng = Engine(synthetic_sim, tmp_path, overrides={"control": {
        "listen": "0.0.0.0:0", "token_file": str(token_file),
        "tls_cert_file": str(cert), "tls_key_file": str(key)}})
    eng.cert, eng.token_file = cert, token_file
    yield eng
    if eng.proc.poll() is None:
        assert eng.stop() == 0


def test_wss_json_rpc_and_https_on_every_address(tls_engine):
    where = control_address(tls_engine)
    port = where["port"]
    assert where["address"] == "0.0.0.0" and where["tls"] is True
    # The control file keeps "ADDRESS:PORT" as its first line; the second says TLS.
    assert open(where["file"]).read() == f"0.0.0.0:{port}\ntls\n"
    ctx = trusting(tls_engine.cert)

    def https(path):
        try:
            with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    assert https("/healthz") == (200, "ok\n")
    assert wait_until(lambda: https("/readyz")[0] == 200, timeout=10)
    assert "cwts_books_valid 2" in https("/metrics")[1]

    async def run():
        url = f"wss://127.0.0.1:{port}/ws"
        async with websockets.connect(url, ssl=ctx,
                                      additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            rpc = Rpc(ws)
            st = (await rpc.call("status"))["result"]
            assert st["instance"] == tls_engine.instance and st["ready"] and st["books_valid"] == 2
            topics = (await rpc.call("subscribe", {"topics": ["stats"]}))["result"]["topics"]
            assert topics == ["stats"]
            note = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert note["method"] == "stats"
        async with websockets.connect(url, ssl=ctx) as ws:  # TLS is no authentication
            assert (await Rpc(ws).call("status"))["error"]["code"] == -32001

    asyncio.run(run())


def test_clients_without_tls_or_trust_are_refused(tls_engine):
    port = control_address(tls_engine)["port"]

    async def plain_ws():
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws", open_timeout=10,
                                      additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
            await Rpc(ws).call("status")

    with pytest.raises(Exception) as refused:  # closed during the (HTTP) handshake
        asyncio.run(plain_ws())
    assert not isinstance(refused.value, AssertionError)
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()

    async def untrusting_wss():  # the system's store does not know a self-signed certificate
        async with websockets.connect(f"wss://127.0.0.1:{port}/ws", ssl=ssl.create_default_context(),
                                      open_timeout=10):
            pass

    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(untrusting_wss())
    # Each failed handshake is logged with the peer; the engine goes on serving TLS clients.
    assert wait_until(lambda: tls_engine.log_path.read_text().count('"control_tls_handshake_failed"') >= 3,
                      timeout=5)
    ctx = trusting(tls_engine.cert)
    with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=ctx, timeout=10) as r:
        assert r.status == 200
    assert tls_engine.proc.poll() is None


def test_cwtsctl_over_tls(tls_engine, tmp_path):
    r = ctl(tls_engine.instance, "--json", "status", token_file=tls_engine.token_file)
    assert r.returncode == 1 and "--cafile" in r.stderr, r.stderr  # self-signed: not trusted
    r = ctl(tls_engine.instance, "--cafile", str(tls_engine.cert), "--json", "status",
            token_file=tls_engine.token_file)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["instance"] == tls_engine.instance
    port = control_address(tls_engine)["port"]
    r = ctl(tls_engine.instance, "--url", f"wss://127.0.0.1:{port}/ws", "--cafile", str(tls_engine.cert),
            "risk", "get", token_file=tls_engine.token_file)
    assert r.returncode == 0 and "max_open_orders" in r.stdout, r.stderr
    other, _ = make_cert(tmp_path, "other")
    r = ctl(tls_engine.instance, "--cafile", str(other), "status", token_file=tls_engine.token_file)
    assert r.returncode == 1 and "TLS handshake" in r.stderr


def check_config(tmp_path, control):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"market": {"symbols": ["BTCUSDT"]}, "venue": {"kind": "paper"},
                               "control": control}))
    return subprocess.run([str(cwtsd_binary()), "--config", str(cfg), "--check-config"],
                          capture_output=True, text=True, timeout=30)


def test_tls_configuration_checks(tmp_path):
    cert, key = make_cert(tmp_path)
    r = check_config(tmp_path, {"listen": "0.0.0.0:9464", "tls_cert_file": str(cert), "tls_key_file": str(key)})
    assert r.returncode == 0, r.stderr
    r = check_config(tmp_path, {"listen": "0.0.0.0:9464"})
    assert r.returncode == 2 and "control.tls_cert_file" in r.stderr and "control.tls_key_file" in r.stderr
    r = check_config(tmp_path, {"tls_cert_file": str(cert)})
    assert r.returncode == 2 and "control.tls_key_file" in r.stderr
    os.chmod(key, 0o644)
    r = check_config(tmp_path, {"tls_cert_file": str(cert), "tls_key_file": str(key)})
    assert r.returncode == 2 and "control.tls_key_file" in r.stderr and "chmod 600" in r.stderr
    os.chmod(key, 0o600)
    _, other_key = make_cert(tmp_path, "other")
    r = check_config(tmp_path, {"tls_cert_file": str(cert), "tls_key_file": str(other_key)})
    assert r.returncode == 2 and str(other_key) in r.stderr, r.stderr
