"""The control plane's HTTP endpoints on a real cwtsd (real cwts-sim): /healthz, /readyz and
/metrics, parsed by prometheus_client's own parser, with the documented names present and moving."""
import json
import socket
import time
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

import cwts_bridge
from conftest import Engine, wait_until


def control_address(engine):
    lines = [json.loads(l) for l in engine.log_path.read_text().splitlines() if '"control_listening"' in l]
    assert lines, "cwtsd logged no control_listening line"
    return lines[-1]


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
}


def test_health_readiness_and_errors(engine):
    where = control_address(engine)
    port = where["port"]
    assert where["address"] == "127.0.0.1"
    assert open(where["file"]).read().strip() == f"127.0.0.1:{port}"
    assert get(port, "/healthz")[::2] == (200, "ok\n")
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
    assert s1[("cwts_venue_connected", ())] == 1
    # A signal the engine refuses (price far outside the band) shows up by kind and reason.
    with cwts_bridge.attach(engine.instance, slot=-1) as b:
        q = b.quote("BTCUSDT")
        seq = b.submit("BTCUSDT", "buy", 0.001, price=round(q.bid * 0.5, 2))
        r = b.wait_report(seq, 5.0)
        assert r is not None and r.reason == "PRICE_BAND"
    time.sleep(1.0)
    fam2, s2 = scrape(port)
    assert s2[("cwts_md_frames_total", ())] > s1[("cwts_md_frames_total", ())]
    assert s2[("cwts_md_events_published_total", ())] > s1[("cwts_md_events_published_total", ())]
    assert s2[("cwts_signals_seen_total", ())] == s1[("cwts_signals_seen_total", ())] + 1
    assert s2[("cwts_signals_total", (("outcome", "rejected"),))] == s1[("cwts_signals_total", (("outcome", "rejected"),))] + 1
    key = ("cwts_reports_total", (("kind", "REJECTED"), ("reason", "PRICE_BAND")))
    assert s2[key] == s1.get(key, 0) + 1
    # The histogram is cumulative, ends at +Inf == _count, and counted every event.
    buckets = [s for s in fam2["cwts_md_publish_latency_seconds"].samples if s.name.endswith("_bucket")]
    values = [s.value for s in buckets]
    assert values == sorted(values) and buckets[-1].labels["le"] == "+Inf"
    count = s2[("cwts_md_publish_latency_seconds_count", ())]
    assert values[-1] == count > s1[("cwts_md_publish_latency_seconds_count", ())]
    assert 0 < s2[("cwts_md_publish_latency_seconds_sum", ())] < count  # seconds, each well under 1 s
    for thread in ("md", "exec"):
        assert 0 <= s2[("cwts_thread_heartbeat_age_seconds", (("thread", thread),))] < 2


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
