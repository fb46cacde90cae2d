"""The soak harness's own checks (bench/soak/checks.py), against a real cwts-sim and cwtsd: each is
shown to pass on a healthy engine and to fail on the fault it exists for."""
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest

from conftest import DATA, ROOT, Engine, Sim

sys.path.insert(0, str(ROOT / "bench" / "soak"))
import checks  # noqa: E402


@pytest.fixture
def mixed_sim(tmp_path):
    """As the soak runs it: a synthetic market beside a replayed real capture."""
    sim = Sim(["--synthetic", "BTCUSDT", "--rate", "400", "--balance", "USDT=100000,BTC=5",
               "--capture", str(DATA / "spot_nknusdt_2021-10-12.capture"), "--loop", "--rebase-time"],
              tmp_path)
    yield sim
    assert sim.stop() == 0


def test_sim_depth_answers_inside_a_ban_and_matches_the_venues_book(mixed_sim):
    mixed_sim.fault({"pause": True})
    status = {m["symbol"]: m["lastUpdateId"] for m in mixed_sim.get("/_sim/status")["markets"]}
    public = mixed_sim.get("/api/v3/depth?symbol=NKNUSDT&limit=20")
    mixed_sim.fault({"http_status": 418, "retry_after_s": 60, "count": 1})
    with pytest.raises(urllib.error.HTTPError) as banned:
        mixed_sim.get("/api/v3/depth?symbol=NKNUSDT&limit=20")
    assert banned.value.code == 418
    own = mixed_sim.get("/_sim/depth?symbol=NKNUSDT&limit=20")
    assert own == public and own["lastUpdateId"] == status["NKNUSDT"]
    assert len(mixed_sim.get("/_sim/depth?symbol=BTCUSDT&limit=5")["bids"]) == 5
    for bad, code in (("symbol=NOPE", 404), ("symbol=BTCUSDT&limit=0", 400), ("symbol=BTCUSDT&limit=x", 400)):
        with pytest.raises(urllib.error.HTTPError) as e:
            mixed_sim.get(f"/_sim/depth?{bad}")
        assert e.value.code == code, bad


def test_the_engines_books_equal_the_venues_and_a_difference_is_found(mixed_sim, tmp_path, monkeypatch):
    e = Engine(mixed_sim, tmp_path, overrides={"market": {"symbols": ["BTCUSDT", "NKNUSDT"], "timeframes": ["1m"]}})
    try:
        for sym in ("BTCUSDT", "NKNUSDT"):
            outcome, detail = checks.compare_book(mixed_sim.url, mixed_sim.fault, e.instance, sym)
            assert outcome == "equal", detail
        real = checks.sim_depth

        def one_level_off(url, symbol, limit=20):
            d = real(url, symbol, limit)
            d["asks"][3][1] = str(float(d["asks"][3][1]) + 1)
            return d
        monkeypatch.setattr(checks, "sim_depth", one_level_off)
        outcome, detail = checks.compare_book(mixed_sim.url, mixed_sim.fault, e.instance, "NKNUSDT")
        assert outcome == "differ" and detail.startswith("asks[3]"), detail
        monkeypatch.setattr(checks, "sim_depth", real)
        # The venue's market runs again after every comparison.
        before = mixed_sim.get("/_sim/status")["markets"]
        time.sleep(0.5)
        assert mixed_sim.get("/_sim/status")["markets"] != before
    finally:
        assert e.stop() == 0


def test_the_watchdog_check_hears_a_live_engine_and_counts_a_stopped_one(synthetic_sim, tmp_path, monkeypatch):
    notify = checks.NotifyListener(tmp_path / "notify")
    for k, v in notify.env().items():
        monkeypatch.setenv(k, v)
    t0 = time.time()
    e = Engine(synthetic_sim, tmp_path)
    try:
        time.sleep(6)
        late, gap, ready = notify.watchdog_gaps(t0, time.time())
        assert ready and late == 0 and 1.0 < gap < 5.0, (late, gap, notify.messages[-5:])
        os.kill(e.proc.pid, signal.SIGSTOP)  # a hung engine, as systemd would see it
        time.sleep(6)
        os.kill(e.proc.pid, signal.SIGCONT)
        time.sleep(3)
        late, gap, _ = notify.watchdog_gaps(t0, time.time())
        assert late == 1 and gap > 5.5, (late, gap)
    finally:
        assert e.stop() == 0
        notify.close()


def _book(bids, asks, valid=True):
    return (np.array([p for p, _ in bids]), np.array([q for _, q in bids]),
            np.array([p for p, _ in asks]), np.array([q for _, q in asks]), 7, valid)


def test_torn_reads_are_told_from_consistent_ones():
    good = _book([(10.0, 1.0), (9.9, 2.0)], [(10.1, 1.0), (10.2, 3.0)])
    assert checks.torn_book(good) is None
    assert "out of order" in checks.torn_book(_book([(9.9, 1.0), (10.0, 2.0)], [(10.1, 1.0)]))
    assert "out of order" in checks.torn_book(_book([(10.0, 1.0)], [(10.2, 1.0), (10.1, 3.0)]))
    assert "without quantity" in checks.torn_book(_book([(10.0, 0.0)], [(10.1, 1.0)]))
    assert "not below" in checks.torn_book(_book([(10.1, 1.0)], [(10.1, 1.0)]))
    assert checks.torn_book(_book([(10.1, 1.0)], [(10.1, 1.0)], valid=False)) is None

    class Q:
        bid, ask, bid_size, ask_size, update_id, book_valid = 10.0, 10.1, 1.0, 1.0, 7, True
    assert checks.torn_quote(Q) is None
    Q.ask = 9.0
    assert checks.torn_quote(Q).startswith("quote")


def test_growth_after_warm_up_is_found_and_a_flat_run_passes(tmp_path):
    ts = [float(t) for t in range(0, 400, 2)]
    flat = {"t": ts, "fds": [30] * len(ts), "threads": [9] * len(ts), "rss_kb": [100_000] * len(ts)}
    assert checks.resource_growth(flat) is None
    leak = dict(flat, fds=[30 + k for k in range(len(ts))])
    assert checks.resource_growth(leak).startswith("fds")
    rss = dict(flat, rss_kb=[100_000 + 1_000 * k for k in range(len(ts))])
    assert checks.resource_growth(rss).startswith("RSS")
    assert checks.resource_growth(dict(leak, t=ts[:50], fds=leak["fds"][:50])) is None  # too short to say
    f = tmp_path / "w.jsonl"
    f.write_text(json.dumps({"t": "sent", "seq": 1}) + "\n" + '{"t": "sent", "se')  # killed mid-write
    assert checks.read_rows(f) == [{"t": "sent", "seq": 1}]


def test_the_rate_check_counts_what_the_venue_counted_and_finds_a_breach(tmp_path):
    """venue_rate_limits_exceeded: the weight spent from this host (every key and none, as Binance
    counts per IP), by cwts-sim's own count (/_sim/stats), within one minute against the venue's
    REQUEST_WEIGHT limit; and the orders, by the venue's order endpoint."""
    from conftest import API_KEY, API_SECRET
    from test_gateway import signed

    def weight():
        return next(p for p in rates.peaks() if p["limit"] == "weight")
    sim = Sim(["--synthetic", "BTCUSDT", "--balance", "USDT=100000", "--weight-limit", "200"], tmp_path)
    if time.time() % 60 > 45:  # the venue's minute windows: the test's requests all in one
        time.sleep(60.5 - time.time() % 60)
    try:
        rates = checks.RateSampler(sim.url, every_s=0)
        assert ("weight", 60, 200) in rates.limits and any(w == "orders" for w, _, _ in rates.limits)
        rates.sample()
        for _ in range(4):  # GET account: weight 20 each
            assert signed(sim.url, "GET", "/api/v3/account", {}, API_KEY, API_SECRET)[0] == 200
        rates.sample()
        assert (weight()["peak"], weight()["windows_over"]) == (80, 0), weight()
        sim.get("/api/v3/depth?symbol=BTCUSDT&limit=100")  # unsigned: weight 5, the IP's all the same
        status, _ = signed(sim.url, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET",
                                                              "quantity": "0.001"}, API_KEY, API_SECRET)
        rates.sample()
        assert (weight()["peak"], weight()["windows_over"]) == (86, 0), weight()
        assert rates.samples[-1][2] - rates.samples[0][2] == 1, (status, rates.samples)
        for _ in range(6):  # 206 in the minute: over the limit, whether the venue refused or not
            signed(sim.url, "GET", "/api/v3/account", {}, API_KEY, API_SECRET)
        rates.sample()
        assert weight()["peak"] == 206 and weight()["windows_over"] >= 1, weight()
    finally:
        assert sim.stop() == 0
