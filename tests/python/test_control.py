"""The control plane's HTTP endpoints on a real cwtsd (real cwts-sim): /healthz, /readyz and
/metrics, parsed by prometheus_client's own parser, with the documented names present and moving."""
import json
import os
import subprocess
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cwts_bridge
from conftest import Engine, assert_published_whole, control_port, generated_token, wait_until


def control_address(engine):
    # The ctl thread opens the control plane once the engine has started, which may be just after
    # the books the fixture waited for; and the log is written asynchronously.
    def lines():
        return [json.loads(l) for l in engine.log_path.read_text().splitlines() if '"control_listening"' in l]
    assert wait_until(lines, timeout=10), "cwtsd logged no control_listening line"
    return lines()[-1]


def test_the_control_file_appears_whole(synthetic_sim, tmp_path):
    """cwtsctl and scripts read cwts-<instance>.control as soon as it exists: it appears by one
    rename, never created empty and then written."""
    assert_published_whole(lambda: Engine(synthetic_sim, tmp_path), control_port, "control")


def get(port, path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read().decode()


def scrape(port):
    status, ctype, body = get(port, "/metrics")
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    families = {f.name: f for f in text_string_to_metric_families(body)}
    samples = {}
    for f in families.values():
        for s in f.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return families, samples


DOCUMENTED = {
    "cwts_md_frames": "counter", "cwts_md_parse_errors": "counter", "cwts_md_gaps": "counter",
    "cwts_md_resyncs": "counter", "cwts_md_events_published": "counter",
    "cwts_md_publish_latency_seconds": "histogram", "cwts_book_valid": "gauge", "cwts_books_valid": "gauge",
    "cwts_signals_seen": "counter", "cwts_signals": "counter", "cwts_reports": "counter",
    "cwts_orders_sent": "counter", "cwts_fills": "counter", "cwts_venue_connected": "gauge",
    "cwts_trading_state": "gauge", "cwts_thread_heartbeat_age_seconds": "gauge",
    "cwts_md_messages": "counter", "cwts_venue_usage": "gauge", "cwts_ring_occupancy": "gauge",
    "cwts_venue_limit": "gauge", "cwts_venue_backoffs": "counter", "cwts_ready": "gauge",
    "cwts_progress_timeout_seconds": "gauge", "cwts_handler_spills": "counter",
}


def test_health_readiness_and_errors(engine):
    where = control_address(engine)
    port = where["port"]
    assert where["address"] == "127.0.0.1"
    assert open(where["file"]).read().strip() == f"127.0.0.1:{port}"
    assert get(port, "/healthz")[::2] == (200, "ok\n")
    # Ready = books synced (the fixture waited for that) and the venue connected.
    assert wait_until(lambda: get(port, "/readyz")[0] == 200, timeout=10)
    assert get(port, "/readyz")[::2] == (200, "ready\n")
    assert get(port, "/nothing")[0] == 404
    assert get(port, "/metrics", method="POST")[0] == 405
    engine.stop()
    assert not __import__("os").path.exists(where["file"]), "the control file is removed at exit"


def test_metrics_parse_and_move(engine):
    port = control_address(engine)["port"]
    fam1, s1 = scrape(port)
    for name, kind in DOCUMENTED.items():
        assert name in fam1, f"{name} missing"
        assert fam1[name].type == kind, f"{name} is {fam1[name].type}"
    assert s1[("cwts_book_valid", (("symbol", "BTCUSDT"),))] == 1
    assert s1[("cwts_book_valid", (("symbol", "ETHUSDT"),))] == 1
    assert s1[("cwts_trading_state", (("state", "active"),))] == 1
    assert wait_until(lambda: scrape(port)[1][("cwts_venue_connected", ())] == 1, timeout=10)
    # A signal the engine refuses (price far outside the band) shows up by kind and reason.
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        q = b.quote("BTCUSDT")
        seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.5, 2))
        r = b.wait_report(seq, 5.0)
        assert r is not None and r.reason == "PRICE_BAND"
        # The claimed slot's rings are listed (empty: the engine took the signal, we took the report).
        _, s_mid = scrape(port)
        assert s_mid[("cwts_ring_occupancy", (("ring", "signals"), ("slot", str(b.slot))))] == 0
    time.sleep(1.0)
    fam2, s2 = scrape(port)
    assert s2[("cwts_md_frames_total", ())] > s1[("cwts_md_frames_total", ())]
    assert s2[("cwts_md_events_published_total", ())] > s1[("cwts_md_events_published_total", ())]
    assert s2[("cwts_signals_seen_total", ())] == s1[("cwts_signals_seen_total", ())] + 1
    assert s2[("cwts_signals_total", (("outcome", "rejected"),))] == s1[("cwts_signals_total", (("outcome", "rejected"),))] + 1
    key = ("cwts_reports_total", (("kind", "REJECTED"), ("reason", "PRICE_BAND")))
    assert s2[key] == s1.get(key, 0) + 1
    for stream in ("depth", "bookTicker", "aggTrade"):
        k = ("cwts_md_messages_total", (("stream", stream),))
        assert s2[k] > s1[k], stream
    assert s2[("cwts_venue_usage", (("limit", "request_weight_1m"),))] > 0  # cwts-sim sends the headers
    # The histogram is cumulative, ends at +Inf == _count, and counted every event.
    buckets = [s for s in fam2["cwts_md_publish_latency_seconds"].samples if s.name.endswith("_bucket")]
    values = [s.value for s in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf"
    count = s2[("cwts_md_publish_latency_seconds_count", ())]
    assert values[-1] == count > s1[("cwts_md_publish_latency_seconds_count", ())]
    assert 0 < s2[("cwts_md_publish_latency_seconds_sum", ())] < count  # seconds, each well under 1 s
    for thread in ("md", "exec"):
        assert 0 <= s2[("cwts_thread_heartbeat_age_seconds", (("thread", thread),))] < 2
        assert s2[("cwts_handler_spills_total", (("thread", thread),))] == 0  # no allocation


def test_a_stuck_client_does_not_block_others(engine):
    port = control_address(engine)["port"]
    silent = socket.create_connection(("127.0.0.1", port))
    partial = socket.create_connection(("127.0.0.1", port))
    partial.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finishes its headers
    try:
        t = time.monotonic()
        for _ in range(5):
            assert get(port, "/healthz")[0] == 200
        assert time.monotonic() - t < 2.0
    finally:
        silent.close()
        partial.close()


def test_control_can_be_disabled_and_bad_listen_is_a_config_error(synthetic_sim, tmp_path):
    eng = Engine(synthetic_sim, tmp_path, overrides={"control": {"enabled": False}})
    try:
        assert '"control_listening"' not in eng.log_path.read_text()
    finally:
        assert eng.stop() == 0
    import subprocess
    from conftest import cwtsd_binary
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({"market": {"symbols": ["BTCUSDT"]}, "control": {"listen": "localhost:99999"}}))
    r = subprocess.run([str(cwtsd_binary()), "--check-config", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2 and "control.listen" in r.stderr
    # Plain HTTP: an address off this host is refused at config check, naming the TLS setting to come.
    cfg.write_text(json.dumps({"market": {"symbols": ["BTCUSDT"]}, "control": {"listen": "0.0.0.0:9464"}}))
    r = subprocess.run([str(cwtsd_binary()), "--check-config", "--config", str(cfg)], capture_output=True, text=True)
    assert r.returncode == 2 and "control.listen" in r.stderr and "not a loopback address" in r.stderr
    assert "control.tls_cert_file" in r.stderr


# ---- JSON-RPC 2.0 over the WebSocket at /ws ------------------------------------------------------
import asyncio
import os
import pathlib

import websockets

TOKEN = "control-token-0123456789abcdef"


def engine_with_token(sim, tmp_path, **control):
    token_file = tmp_path / "control.token"
    token_file.write_text(TOKEN + "\n")
    os.chmod(token_file, 0o600)
    return Engine(sim, tmp_path, overrides={"control": dict({"token_file": str(token_file)}, **control)})


class Rpc:
    def __init__(self, ws):
        self.ws, self.next_id, self.notes = ws, 0, []

    async def call(self, method, params=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        await self.ws.send(json.dumps(msg))
        while True:  # notifications are kept for the test to look at
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if reply.get("id") == self.next_id:
                return reply
            if "method" in reply:
                self.notes.append(reply)


async def connect(port, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else None
    return await websockets.connect(f"ws://127.0.0.1:{port}/ws", additional_headers=headers)


def test_rpc_read_methods_and_errors(engine):
    port = control_address(engine)["port"]
    token = generated_token(engine)

    async def run():
        async with await connect(port) as ws:  # no token: nothing to read, not even the reports
            rpc = Rpc(ws)
            for method in ("status", "symbols", "risk.get", "slots"):
                assert (await rpc.call(method))["error"]["code"] == -32001, method
            assert (await rpc.call("subscribe", {"topics": ["reports"]}))["error"]["code"] == -32001
        async with await connect(port, token) as ws:
            rpc = Rpc(ws)
            assert wait_until(lambda: get(port, "/readyz")[0] == 200, timeout=10)
            st = (await rpc.call("status"))["result"]
            assert st["instance"] == engine.instance and st["ready"] and st["trading_state"] == "active"
            assert st["symbols"] == 2 and st["books_valid"] == 2 and st["venue_connected"]
            syms = (await rpc.call("symbols"))["result"]
            assert [s["symbol"] for s in syms] == ["BTCUSDT", "ETHUSDT"]
            assert all(s["book_valid"] and float(s["bid"]) < float(s["ask"]) for s in syms)
            risk = (await rpc.call("risk.get"))["result"]
            assert risk["max_open_orders"] == 20 and risk["price_band_bps"] == 500
            assert risk["max_order_notional"] == "100000.00000000"
            assert (await rpc.call("slots"))["result"] == []
            # Errors, each with its JSON-RPC code.
            await ws.send("{not json")
            assert json.loads(await ws.recv())["error"]["code"] == -32700
            await ws.send(json.dumps({"id": 7, "method": "status"}))
            r = json.loads(await ws.recv())
            assert r["error"]["code"] == -32600 and r["id"] == 7
            assert (await rpc.call("nope"))["error"]["code"] == -32601
            assert (await rpc.call("subscribe", {"topics": ["weather"]}))["error"]["code"] == -32602
            # A batch: one array of replies in order; notifications in it get none; bad members an error.
            await ws.send(json.dumps([{"jsonrpc": "2.0", "id": "x", "method": "risk.get"},
                                      {"jsonrpc": "2.0", "method": "status"},
                                      {"jsonrpc": "2.0", "id": "y", "method": "nope"}, 5]))
            batch = json.loads(await ws.recv())
            assert [r.get("id") for r in batch] == ["x", "y", None]
            assert "result" in batch[0] and batch[1]["error"]["code"] == -32601 and batch[2]["error"]["code"] == -32600
            await ws.send("[]")
            assert json.loads(await ws.recv())["error"]["code"] == -32600
            # A notification (no id) gets no reply; the next call still answers.
            await ws.send(json.dumps({"jsonrpc": "2.0", "method": "status"}))
            assert "result" in await rpc.call("status")
        with cwts_bridge.attach(engine.instance, slot=-1, name="rpc-test") as b:
            async with await connect(port, token) as ws:
                slots = (await Rpc(ws).call("slots"))["result"]
                assert [(s["slot"], s["pid"], s["name"]) for s in slots] == [(b.slot, os.getpid(), "rpc-test")]

    asyncio.run(run())


def test_rpc_mutations_need_the_token_and_take_effect(synthetic_sim, tmp_path):
    eng = engine_with_token(synthetic_sim, tmp_path)
    port = control_address(eng)["port"]

    async def run(b):
        async with await connect(port, "wrong-token-0123456789") as ws:
            assert (await Rpc(ws).call("halt"))["error"]["code"] == -32001
        async with await connect(port, TOKEN) as ws:
            rpc = Rpc(ws)
            topics = ["alerts", "reports", "stats"]
            assert (await rpc.call("subscribe", {"topics": topics}))["result"]["topics"] == topics
            # risk.set: at once, checked, logged.
            r = (await rpc.call("risk.set", {"price_band_bps": 10, "max_order_notional": "2000"}))["result"]
            assert r["price_band_bps"] == 10 and r["max_order_notional"] == "2000.00000000"
            assert (await rpc.call("risk.set", {"price_band_bps": -1}))["error"]["code"] == -32602
            assert (await rpc.call("risk.set", {"colour": 1}))["error"]["code"] == -32602
            # The book-age limit and account-holdings sells (issue 16 #7, #8) are live-settable too.
            r = (await rpc.call("risk.set", {"max_book_age_ms": 2500, "sell_account_holdings": True}))["result"]
            assert r["max_book_age_ms"] == 2500 and r["sell_account_holdings"] is True
            assert (await rpc.call("risk.get"))["result"]["max_book_age_ms"] == 2500
            assert (await rpc.call("risk.set", {"sell_account_holdings": 1}))["error"]["code"] == -32602
            r = (await rpc.call("risk.set", {"max_book_age_ms": 5000, "sell_account_holdings": False}))["result"]
            assert r["max_book_age_ms"] == 5000 and r["sell_account_holdings"] is False
            q = b.quote("BTCUSDT")
            seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.99, 2))  # 100 bps away: now refused
            rep = b.wait_report(seq, 5)
            assert rep.kind == "REJECTED" and rep.reason == "PRICE_BAND"
            # halt: new orders refused; resume: accepted again.
            assert (await rpc.call("halt"))["result"]["trading_state"] == "halted"
            await asyncio.sleep(0.3)
            assert (await rpc.call("status"))["result"]["trading_state"] == "halted"
            seq = b.submit("BTCUSDT", "buy", 0.001, price=q.bid)
            assert b.wait_report(seq, 5).reason == "TRADING_HALTED"
            assert (await rpc.call("resume"))["result"]["trading_state"] == "active"
            assert (await rpc.call("risk.set", {"price_band_bps": 1000}))["result"]["price_band_bps"] == 1000
            await asyncio.sleep(0.3)
            # cancel_all: a resting order comes back CANCELLED.
            seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.95, 2))
            assert wait_until(lambda: any(r.seq == seq and r.kind == "NEW" for r in b.reports()), timeout=5)
            assert (await rpc.call("cancel_all"))["result"]["requested"]
            final = b.wait_report(seq, 5)
            assert final is not None and final.kind == "CANCELLED"
            # Notifications arrived on the same connection: alerts for each state change, stats each second.
            deadline = asyncio.get_event_loop().time() + 3
            while asyncio.get_event_loop().time() < deadline and sum(n["method"] == "stats" for n in rpc.notes) < 2:
                rpc.notes.append(json.loads(await asyncio.wait_for(ws.recv(), 3)))
            stats = [n for n in rpc.notes if n["method"] == "stats"]
            assert len(stats) >= 2
            assert {s["symbol"] for s in stats[-1]["params"]["symbols"]} == {"BTCUSDT", "ETHUSDT"}
            alerts = [n["params"]["detail"] for n in rpc.notes if n["method"] == "alerts"]
            assert "halted" in alerts and "active" in alerts
            # Every report went to the strategy *and* to the subscriber (the ring was only observed).
            reports = [n["params"] for n in rpc.notes if n["method"] == "reports"]
            band = [r for r in reports if r["reason"] == "PRICE_BAND"]
            assert band, (reports, [n["method"] for n in rpc.notes])
            assert band[0]["kind"] == "REJECTED" and band[0]["symbol"] == "BTCUSDT" and band[0]["slot"] == b.slot
            assert any(r["kind"] == "CANCELLED" and r["signal_seq"] == seq for r in reports)
        log = eng.log_path.read_text()
        assert '"risk_set"' in log and '"trading_state_set"' in log and '"cancel_all_requested"' in log
        assert TOKEN not in log

    try:
        with cwts_bridge.attach(eng.instance, slot=-1) as b:
            asyncio.run(run(b))
    finally:
        assert eng.stop() == 0


def test_rpc_reads_open_only_when_the_operator_says_so(synthetic_sim, tmp_path):
    """control.allow_unauthenticated_reads opens the read-only methods (loopback only); the
    mutations still need the token."""
    eng = engine_with_token(synthetic_sim, tmp_path, allow_unauthenticated_reads=True)
    port = control_address(eng)["port"]

    async def run():
        async with await connect(port) as ws:
            rpc = Rpc(ws)
            assert (await rpc.call("status"))["result"]["instance"] == eng.instance
            assert (await rpc.call("subscribe", {"topics": ["reports"]}))["result"]["topics"] == ["reports"]
            assert (await rpc.call("risk.set", {"max_open_orders": 1}))["error"]["code"] == -32001
            assert (await rpc.call("halt"))["error"]["code"] == -32001
        r = ctl(eng.instance, "--json", "status")
        assert r.returncode == 0 and json.loads(r.stdout)["instance"] == eng.instance
        assert ctl(eng.instance, "halt").returncode == 1

    try:
        asyncio.run(run())
    finally:
        assert eng.stop() == 0


def test_rpc_closed_reads_and_a_slow_subscriber(synthetic_sim, tmp_path):
    eng = engine_with_token(synthetic_sim, tmp_path)
    port = control_address(eng)["port"]

    async def run():
        async with await connect(port) as ws:
            assert (await Rpc(ws).call("status"))["error"]["code"] == -32001
        # A subscriber that never reads: the engine keeps serving everyone else.
        slow = await connect(port, TOKEN)
        await slow.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscribe", "params": {"topics": ["stats"]}}))
        await asyncio.sleep(2.5)
        t = time.monotonic()
        async with await connect(port, TOKEN) as ws:
            assert (await Rpc(ws).call("status"))["result"]["instance"] == eng.instance
        assert time.monotonic() - t < 2
        assert get(port, "/healthz")[0] == 200
        await slow.close()

    try:
        asyncio.run(run())
    finally:
        assert eng.stop() == 0


def test_token_file_must_be_private(synthetic_sim, tmp_path):
    from conftest import cwtsd_binary
    token_file = tmp_path / "open.token"
    token_file.write_text(TOKEN)
    os.chmod(token_file, 0o644)
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"market": {"symbols": ["BTCUSDT"]}, "venue": {"kind": "paper"},
                               "control": {"token_file": str(token_file)}}))
    r = subprocess.run([str(cwtsd_binary()), "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "control.token_file" in r.stderr and TOKEN not in r.stderr


# ---- cwtsctl -------------------------------------------------------------------------------------
def cwtsctl_binary():
    from conftest import cwtsd_binary
    p = cwtsd_binary().parents[1] / "cwtsctl" / "cwtsctl"
    assert p.exists(), f"{p} not built"
    return p


def ctl(instance, *args, token_file=None):
    cmd = [str(cwtsctl_binary()), "--instance", instance]
    if token_file:
        cmd += ["--token-file", str(token_file)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=30)


def test_cwtsctl_commands(synthetic_sim, tmp_path):
    eng = engine_with_token(synthetic_sim, tmp_path)
    tok = tmp_path / "control.token"
    try:
        assert wait_until(lambda: get(control_address(eng)["port"], "/readyz")[0] == 200, timeout=10)
        r = ctl(eng.instance, "status")  # the configured token is not found by instance
        assert r.returncode == 1 and "unauthorized" in r.stderr
        r = ctl(eng.instance, "--json", "status", token_file=tok)
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["instance"] == eng.instance and st["ready"] is True
        r = ctl(eng.instance, "status", token_file=tok)
        assert r.returncode == 0 and "trading_state" in r.stdout and "active" in r.stdout
        r = ctl(eng.instance, "symbols", token_file=tok)
        assert r.returncode == 0 and "BTCUSDT" in r.stdout and "ETHUSDT" in r.stdout
        with cwts_bridge.attach(eng.instance, slot=-1, name="ctl-test") as b:
            slots = json.loads(ctl(eng.instance, "--json", "slots", token_file=tok).stdout)
            assert [(s["slot"], s["name"]) for s in slots] == [(b.slot, "ctl-test")]
            assert "ctl-test" in ctl(eng.instance, "slots", token_file=tok).stdout
        assert json.loads(ctl(eng.instance, "--json", "risk", "get", token_file=tok).stdout)["max_open_orders"] == 20
        # Mutations: refused without the token, done with it.
        r = ctl(eng.instance, "halt")
        assert r.returncode == 1 and "unauthorized" in r.stderr
        r = ctl(eng.instance, "--json", "risk", "set", "max_open_orders=3", "max_order_notional=500", token_file=tok)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["max_open_orders"] == 3
        assert json.loads(ctl(eng.instance, "--json", "halt", token_file=tok).stdout)["trading_state"] == "halted"
        assert json.loads(ctl(eng.instance, "--json", "status", token_file=tok).stdout)["trading_state"] == "halted"
        assert "reduce_only" in ctl(eng.instance, "reduce-only", token_file=tok).stdout
        assert ctl(eng.instance, "resume", token_file=tok).returncode == 0
        assert ctl(eng.instance, "cancel-all", token_file=tok).returncode == 0
        # top: bounded, one JSON line per notification with --json, a table otherwise.
        r = ctl(eng.instance, "--json", "top", "--seconds", "2.5", token_file=tok)
        lines = [json.loads(l) for l in r.stdout.splitlines()]
        assert r.returncode == 0 and sum(1 for l in lines if "stats" in l) >= 2
        r = ctl(eng.instance, "top", "--seconds", "1.5", token_file=tok)
        assert r.returncode == 0 and "BTCUSDT" in r.stdout and "publish latency" in r.stdout
        # Usage and unreachable engines.
        assert ctl(eng.instance, "frobnicate").returncode == 2
        assert ctl(eng.instance, "risk", "set", "max_open_orders=x", token_file=tok).returncode == 2
        r = ctl("no-such-instance", "status")
        assert r.returncode == 1 and "no-such-instance" in r.stderr
    finally:
        assert eng.stop() == 0


def test_cwtsctl_finds_the_generated_token(engine):
    """Without control.token_file, cwtsd generates a token for the run into an owner-only file
    beside its control file; cwtsctl finds it by instance, so an operator (and ./scripts/demo)
    needs no flag. The file goes with the engine."""
    control_port(engine)  # the control plane opens just after the books the fixture waited for
    path = pathlib.Path(f"/dev/shm/cwts-{engine.instance}.token")
    st = path.lstat()
    assert oct(st.st_mode & 0o777) == "0o600" and st.st_uid == os.getuid()
    r = ctl(engine.instance, "--json", "status")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["instance"] == engine.instance
    assert json.loads(ctl(engine.instance, "--json", "halt").stdout)["trading_state"] == "halted"
    assert ctl(engine.instance, "resume").returncode == 0
    assert generated_token(engine) not in engine.log_path.read_text()
    assert engine.stop() == 0
    assert not path.exists(), "the generated token file is removed at exit"


@pytest.mark.skipif(os.geteuid() != 0, reason="gives a file to another uid (chown)")
def test_cwtsctl_refuses_a_control_file_another_user_planted(tmp_path):
    """In a sticky directory any local user can create cwts-<instance>.control before cwtsd: cwtsctl
    would send the token to the address it names. It trusts the file only when this user, root or
    the token's owner owns it."""
    planted = tmp_path / "cwts-x.control"
    planted.write_text("127.0.0.1:1\n")  # nothing listens there
    token = tmp_path / "control.token"
    token.write_text("t0ken\n")
    base = [str(cwtsctl_binary()), "--shm-dir", str(tmp_path), "--instance", "x", "--token-file", str(token)]
    os.chown(planted, 4242, 4242)
    r = subprocess.run(base + ["status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "refusing" in r.stderr and "uid 4242" in r.stderr, r.stderr
    os.chown(token, 4242, 4242)  # the engine's user owns its token: its control file is trusted
    r = subprocess.run(base + ["status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "refusing" not in r.stderr, r.stderr
    os.chown(token, 0, 0)
    os.chown(planted, 0, 0)  # root's (this user's here)
    r = subprocess.run(base + ["status"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "refusing" not in r.stderr, r.stderr


def test_a_halt_survives_a_config_reload_until_resume(synthetic_sim, tmp_path):
    """`systemctl reload` (SIGHUP) re-reads the configuration; it must not undo an operator's halt
    (the configuration's trading_state is the state at start)."""
    import signal as sig
    eng = engine_with_token(synthetic_sim, tmp_path)
    tok = tmp_path / "control.token"

    def reload_and_wait():
        n = eng.log_path.read_text().count('"config_reloaded"')
        eng.proc.send_signal(sig.SIGHUP)
        assert wait_until(lambda: eng.log_path.read_text().count('"config_reloaded"') > n, timeout=10)
        assert wait_until(lambda: eng.log_path.read_text().count('"limits_applied"') > 0, timeout=10)
        time.sleep(0.3)

    def state():
        return json.loads(ctl(eng.instance, "--json", "status", token_file=tok).stdout)["trading_state"]

    try:
        assert wait_until(lambda: get(control_address(eng)["port"], "/readyz")[0] == 200, timeout=10)
        assert ctl(eng.instance, "halt", token_file=tok).returncode == 0
        assert wait_until(lambda: state() == "halted", timeout=5)
        reload_and_wait()
        assert state() == "halted", "the reload kept the halt"
        with cwts_bridge.attach(eng.instance, slot=-1) as b:
            seq = b.submit("BTCUSDT", "buy", 0.001, type="market")
            assert b.wait_report(seq, 5).reason == "TRADING_HALTED"
        assert ctl(eng.instance, "resume", token_file=tok).returncode == 0
        assert wait_until(lambda: state() == "active", timeout=5)
        reload_and_wait()
        assert state() == "active"
    finally:
        assert eng.stop() == 0


def raw_request(port, lines):
    """One raw HTTP/1.1 request on a fresh connection; returns the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


def test_web_pages_cannot_reach_the_control_plane(engine):
    """A page in a browser on this host must not read the reports stream or the metrics: a
    WebSocket upgrade with an Origin header, or a request under a foreign host name (DNS
    rebinding), is refused; cwtsctl, Prometheus and scripts (no Origin, host by address) are not."""
    port = control_address(engine)["port"]
    upgrade = ["GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
    assert raw_request(port, upgrade).startswith("HTTP/1.1 101"), "a script's upgrade is accepted"
    assert raw_request(port, upgrade + ["Origin: http://evil.example"]).startswith("HTTP/1.1 403")
    assert raw_request(port, upgrade + ["Origin: http://localhost:3000"]).startswith("HTTP/1.1 403")
    get = ["GET /metrics HTTP/1.1", "Connection: close"]
    assert raw_request(port, get + [f"Host: 127.0.0.1:{port}"]).startswith("HTTP/1.1 200")
    assert raw_request(port, get + [f"Host: localhost:{port}"]).startswith("HTTP/1.1 200")
    assert raw_request(port, get + [f"Host: rebound.evil.example:{port}"]).startswith("HTTP/1.1 403")
    assert get_status_ok(port)


def get_status_ok(port):
    return get(port, "/healthz")[0] == 200
