"""The venue's request weight across an engine restart (docs/engine.md, rate limits): Binance counts
weight per IP in fixed minutes and answers 429 past its limit (then bans an IP that goes on). An
engine started again within the minute of its earlier run must spend only what that minute has
left, its feed's depth snapshots included, and never be told 429."""
import time

import cwts_bridge
from conftest import Sim, SpawnedEngine, wait_until

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]


def rate_limited(sim):
    return sim.log_path.read_text().count('"event":"rate_limited"')


def test_an_engine_restarted_within_the_minute_stays_under_the_venues_weight_limit(tmp_path):
    # 450 weight a minute (the engine's share 360, a tenth of it kept for orders). One start costs
    # about 250-350 (exchangeInfo 20, account 20, four depth snapshots of 1000 levels at 50 each,
    # one asked again when the first came too early, ...): two in one minute are over the limit.
    sim = Sim(["--synthetic", ",".join(SYMBOLS), "--rate", "100", "--balance", "USDT=100000",
               "--weight-limit", "450"], tmp_path)
    e = None
    try:
        if time.time() % 60 > 20:  # both starts in one of the venue's minutes
            time.sleep(60.5 - time.time() % 60)
        e = SpawnedEngine(sim, tmp_path, overrides={"market": {"symbols": SYMBOLS, "timeframes": ["1m"]}})

        def ready():
            try:
                with cwts_bridge.attach(e.instance) as b:
                    return all(b.quote(s).book_valid for s in b.symbols())
            except cwts_bridge.EngineNotRunning:
                return False
        # (a start whose snapshots do not fit the engine's share waits for the venue's next minute)
        assert wait_until(ready, timeout=100, step=0.2), e.log_path.read_text()[-3000:]
        assert e.stop() == 0
        assert rate_limited(sim) == 0, "one start fits the venue's minute"
        e.spawn()  # again, at once: the venue's minute still counts the first run
        assert wait_until(ready, timeout=100, step=0.2), e.log_path.read_text()[-3000:]
        assert rate_limited(sim) == 0, sim.log_path.read_text()[-3000:]
        log = e.log_path.read_text()
        assert "HTTP 429" not in log and '"event":"backoff"' not in log, log[-3000:]
        assert e.stop() == 0
    finally:
        if e is not None and e.proc.poll() is None:
            e.proc.kill()
        assert sim.stop() == 0
