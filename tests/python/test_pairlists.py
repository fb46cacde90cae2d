"""Issue 18, dynamic pairlists (ADR 0026): the gateway lists every market of the venue (read-only;
the engine trades only its own symbols), and CwtsStrategy asks the engine for the pairs FreqTrade's
pairlist picks, at start and whenever the whitelist changes. Real cwtsd, real cwts-sim, real
FreqTrade (dry run, its exchange the gateway)."""
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest

import cwts_bridge
from conftest import Engine, wait_until
from test_freqtrade import FREQTRADE, STRATEGIES, base_config
from test_gateway import GATEWAY, ccxt_client, gateway_url, signed, venue_orders
from test_control import control_address, generated_token
from test_symbols import call, three_symbol_sim  # noqa: F401  (fixture)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=15) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def sim_requests(sim, endpoint="GET /api/v3/exchangeInfo"):
    return sim.get("/_sim/stats")["endpoints"].get(endpoint, {}).get("requests", 0)


@pytest.fixture
def gw3(three_symbol_sim, tmp_path):  # noqa: F811
    e = Engine(three_symbol_sim, tmp_path, overrides={"gateway": GATEWAY})
    e.url = gateway_url(e)
    yield e
    if e.proc.poll() is None:
        assert e.stop() == 0


def test_the_gateway_lists_the_venues_markets_and_refuses_orders_on_the_others(gw3, three_symbol_sim):
    sim = three_symbol_sim
    venue = sim.get("/api/v3/exchangeInfo")
    req = urllib.request.Request(sim.url + "/_sim/stats", method="DELETE")
    urllib.request.urlopen(req, timeout=10).read()

    status, info = get(gw3.url + "/api/v3/exchangeInfo")
    assert status == 200, info
    names = [s["symbol"] for s in info["symbols"]]
    # Every market of the venue, in its order, SOLUSDT (not traded by the engine) included.
    assert names == [s["symbol"] for s in venue["symbols"]]
    assert "SOLUSDT" in names and len(names) > 100
    # The engine's symbols as the engine has them; the gateway's own rate limits and filters.
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    assert btc == next(s for s in venue["symbols"] if s["symbol"] == "BTCUSDT")
    assert info["rateLimits"] and "exchangeFilters" in info
    # Cached: FreqTrade's market reloads do not spend the venue's weight each time.
    for _ in range(3):
        assert len(get(gw3.url + "/api/v3/exchangeInfo")[1]["symbols"]) == len(names)
    assert sim_requests(sim) == 1

    # One symbol: the engine's without a venue look-up, another of the venue's read-only.
    status, one = get(gw3.url + "/api/v3/exchangeInfo?symbol=ETHUSDT")
    assert status == 200 and [s["symbol"] for s in one["symbols"]] == ["ETHUSDT"]
    status, one = get(gw3.url + "/api/v3/exchangeInfo?symbol=SOLUSDT")
    assert status == 200 and [s["symbol"] for s in one["symbols"]] == ["SOLUSDT"]
    status, two = get(gw3.url + "/api/v3/exchangeInfo?symbols=" + urllib.parse.quote('["SOLUSDT","BTCUSDT"]'))
    assert status == 200 and [s["symbol"] for s in two["symbols"]] == ["SOLUSDT", "BTCUSDT"]
    status, err = get(gw3.url + "/api/v3/exchangeInfo?symbol=NOPEUSDT")
    assert (status, err["code"]) == (400, -1121)

    # ccxt sees the venue's markets; an order on one the engine does not trade is refused with
    # a Binance error that says how to add it, and nothing reaches the venue.
    x = ccxt_client(gw3.url)
    markets = x.load_markets()
    assert {"BTC/USDT", "ETH/USDT", "SOL/USDT"} <= set(markets)
    # Its market data is the venue's, through the gateway (what a pairlist looks at).
    assert x.fetch_ohlcv("SOL/USDT", "1m", limit=5)
    book = x.fetch_order_book("SOL/USDT", limit=5)
    assert book["bids"][0][0] < book["asks"][0][0]
    assert x.fetch_ticker("SOL/USDT")["quoteVolume"] > 0
    order = {"symbol": "SOLUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}
    status, body = signed(gw3.url, "POST", "/api/v3/order", order)
    assert (status, body["code"]) == (400, -1121), body
    assert "The engine does not trade SOLUSDT" in body["msg"] and "symbols.add" in body["msg"], body
    assert venue_orders(sim, "SOLUSDT") == []


def test_without_the_venues_list_the_gateway_lists_the_engines_symbols(three_symbol_sim, tmp_path):  # noqa: F811
    sim = three_symbol_sim
    e = Engine(sim, tmp_path, overrides={"gateway": GATEWAY})
    try:
        url = gateway_url(e)
        sim.fault({"http_status": 503, "count": 1, "path": "/api/v3/exchangeInfo"})
        status, info = get(url + "/api/v3/exchangeInfo")
        assert status == 200, info
        assert [s["symbol"] for s in info["symbols"]] == ["BTCUSDT", "ETHUSDT"]
        assert wait_until(lambda: '"venue_markets_unavailable"' in e.log_path.read_text(), timeout=5)
    finally:
        if e.proc.poll() is None:
            assert e.stop() == 0


PAIRLIST_STRATEGY = '''
import sys
sys.path.insert(0, {strategies!r})
from pandas import DataFrame
from cwts_strategy import CwtsStrategy


class PairlistStrategy(CwtsStrategy):
    timeframe = "1m"
    minimal_roi = {{"0": 100}}
    stoploss = -0.5
    startup_candle_count = 0
    process_only_new_candles = False
    cwts_retry_secs = 2

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
'''


class DryRun:
    """FreqTrade (dry run) with `pairlists`, its exchange the gateway of `engine`."""

    def __init__(self, engine, sim, tmp_path, pairlists):
        url = gateway_url(engine)
        strat_dir = tmp_path / "strategies"
        strat_dir.mkdir()
        (strat_dir / "pairlist_strategy.py").write_text(PAIRLIST_STRATEGY.format(strategies=str(STRATEGIES)))
        config = base_config(sim, tmp_path, dry_run=True, initial_state="running", bot_name="cwts-pairlists",
                             pairlists=pairlists)
        cfg = json.loads(config.read_text())
        api = {k: url + "/api/v3" for k in ("public", "private", "v3")}
        api["v1"] = url + "/api/v1"
        cfg["exchange"]["ccxt_config"]["urls"] = {"api": api}
        cfg["exchange"]["pair_whitelist"] = []
        config.write_text(json.dumps(cfg))
        self.log = tmp_path / "freqtrade.log"
        self._out = open(self.log, "w")
        self.proc = subprocess.Popen(FREQTRADE + ["trade", "-c", str(config), "--strategy-path", str(strat_dir),
                                                  "-s", "PairlistStrategy"],
                                     stdout=self._out, stderr=subprocess.STDOUT, cwd=tmp_path,
                                     env=dict(os.environ, CWTS_INSTANCE=engine.instance))

    def text(self):
        return self.log.read_text()

    def stop(self):
        self.proc.send_signal(2)  # SIGINT: FreqTrade's clean stop
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._out.close()


def engine_symbols(engine):
    with cwts_bridge.attach(engine.instance) as b:
        return b.symbols()


def test_freqtrade_volume_pairlist_picks_pairs_the_engine_then_trades(three_symbol_sim, tmp_path):  # noqa: F811
    sim = three_symbol_sim
    # The engine starts with BTCUSDT only; VolumePairList picks the top 3 USDT pairs by 24h quote
    # volume from every market the gateway lists (cwts-sim's tickers: its three synthetic ones).
    eng = Engine(sim, tmp_path, overrides={"gateway": GATEWAY,
                                           "market": {"symbols": ["BTCUSDT"], "timeframes": ["1m", "5m"]}})
    ft = None
    try:
        assert engine_symbols(eng) == ["BTCUSDT"]
        ft = DryRun(eng, sim, tmp_path, [{"method": "VolumePairList", "number_assets": 3,
                                          "sort_key": "quoteVolume", "refresh_period": 1800}])
        grown = lambda: sorted(engine_symbols(eng)) == ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        assert wait_until(grown, timeout=60, step=0.5), ft.text()[-5000:]
        assert "cwts: the engine trades" in ft.text()
        with cwts_bridge.attach(eng.instance) as b:
            assert wait_until(lambda: all(b.quote(s).book_valid for s in b.symbols()), timeout=15)
    finally:
        if ft is not None:
            ft.stop()
        if eng.proc.poll() is None:
            assert eng.stop() == 0


def test_pairs_joining_the_whitelist_later_are_added_at_a_bot_loop(three_symbol_sim, tmp_path):  # noqa: F811
    sim = three_symbol_sim
    # A pairlist that changes while FreqTrade runs (RemotePairList reading a local file each
    # second): bot_loop_start asks the engine for the pair that joined; none is removed.
    eng = Engine(sim, tmp_path, overrides={"gateway": GATEWAY,
                                           "market": {"symbols": ["BTCUSDT"], "timeframes": ["1m", "5m"]}})
    pairs_file = tmp_path / "pairs.json"
    pairs_file.write_text(json.dumps({"pairs": ["ETH/USDT"], "refresh_period": 1}))
    ft = None
    try:
        ft = DryRun(eng, sim, tmp_path, [{"method": "RemotePairList", "number_assets": 5,
                                          "pairlist_url": "file:///" + str(pairs_file), "refresh_period": 1}])
        assert wait_until(lambda: "ETHUSDT" in engine_symbols(eng), timeout=60, step=0.5), ft.text()[-5000:]
        pairs_file.write_text(json.dumps({"pairs": ["SOL/USDT"], "refresh_period": 1}))
        assert wait_until(lambda: "SOLUSDT" in engine_symbols(eng), timeout=30, step=0.5), ft.text()[-5000:]
        assert wait_until(lambda: "cwts: the engine trades ['SOLUSDT'] (added now: ['SOLUSDT'])" in ft.text(),
                          timeout=10), ft.text()[-5000:]
        # Before it was added, FreqTrade had the pair's candles from the venue, through the gateway.
        assert "due to BadSymbol" not in ft.text()
        # ETHUSDT left the whitelist but the engine still trades it (removal is the operator's).
        port, token = control_address(eng)["port"], generated_token(eng)
        assert [(s["symbol"], s["trading"]) for s in call(port, token, "symbols")["result"]] == [
            ("BTCUSDT", True), ("ETHUSDT", True), ("SOLUSDT", True)]
    finally:
        if ft is not None:
            ft.stop()
        if eng.proc.poll() is None:
            assert eng.stop() == 0
