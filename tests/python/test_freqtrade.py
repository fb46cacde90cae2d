"""Real FreqTrade (from PyPI) with the project's strategies: offline backtesting with cwts-sim
serving exchangeInfo, and a dry-run attached to a cwtsd fed by the same cwts-sim."""
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from cwts_bridge.freqtrade import write_ohlcv_json
from conftest import Engine, ROOT, wait_until

FREQTRADE = [sys.executable, "-m", "freqtrade"]
STRATEGIES = ROOT / "strategies"


def exchange_config(sim):
    api = {k: sim.url + "/api/v3" for k in ("public", "private", "v3")}
    api["v1"] = sim.url + "/api/v1"
    return {
        "name": "binance", "key": "", "secret": "", "enable_ws": False,
        "pair_whitelist": ["BTC/USDT"],
        "ccxt_config": {"enableRateLimit": False,
                        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                                    "fetchCurrencies": False},
                        "urls": {"api": api}},
    }


def base_config(sim, tmp_path, **extra):
    cfg = {
        "stake_currency": "USDT", "stake_amount": 100, "dry_run_wallet": 1000, "max_open_trades": 1,
        "fee": 0.001, "dataformat_ohlcv": "json", "timeframe": "1m",
        "entry_pricing": {"price_side": "same", "use_order_book": False},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "pairlists": [{"method": "StaticPairList"}],
        "exchange": exchange_config(sim),
        "user_data_dir": str(tmp_path / "user_data"),
        "datadir": str(tmp_path / "data"),
        "db_url": "sqlite:///" + str(tmp_path / "trades.sqlite"),
        "internals": {"process_throttle_secs": 1},
    }
    cfg.update(extra)
    for d in ("user_data", "user_data/strategies", "user_data/data", "data"):
        (tmp_path / d).mkdir(parents=True, exist_ok=True)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(cfg))
    return path


def random_walk_candles(n=3000, seed=7):
    rng = np.random.default_rng(seed)
    close = 50000 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.001, n)) * close
    return pd.DataFrame({
        "date": pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC"),
        "open": open_, "high": np.maximum(open_, close) + spread, "low": np.minimum(open_, close) - spread,
        "close": close, "volume": rng.uniform(1, 10, n),
    })


def test_backtesting_offline_with_the_sample_strategy(synthetic_sim, tmp_path):
    path = write_ohlcv_json(random_walk_candles(), tmp_path / "data", "BTC/USDT", "1m")
    rows = json.loads(path.read_text())
    assert path.name == "BTC_USDT-1m.json" and len(rows[0]) == 6 and isinstance(rows[0][0], int)
    config = base_config(synthetic_sim, tmp_path)
    out = tmp_path / "bt"
    res = subprocess.run(FREQTRADE + ["backtesting", "-c", str(config), "--strategy-path", str(STRATEGIES),
                                      "-s", "CwtsSampleStrategy", "--timerange", "20260101-20260103", "--datadir", str(tmp_path / "data"),
                                      "--export", "trades", "--backtest-directory", str(out)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "CwtsSampleStrategy" in res.stdout + res.stderr
    # The result summary lists trades: the strategy traded on the project's data.
    results = [p for p in tmp_path.glob("bt*") if p.suffix in (".zip", ".json")] + list(out.glob("*.zip")) if out.exists() else [p for p in tmp_path.glob("bt*") if p.suffix in (".zip", ".json")]
    assert results, "backtest results exported: " + str(list(out.parent.rglob("*")))[-2000:] + text_tail(res)
    text = res.stdout + res.stderr
    import re
    m = re.search(r"│\s*CwtsSampleStrategy\s*│\s*(\d+)", text) or re.search(r"Total/Daily Avg Trades\s*│\s*(\d+)", text)
    assert m and int(m.group(1)) > 0, text[-4000:]


def text_tail(res, n=4000):
    return (res.stdout + res.stderr)[-n:]


# Strategies for the live tests: the sample strategy with an entry forced on the live candle (the
# test needs a trade now), and one trade only (the tests compare every order with the venue; the
# entry signal of a loop may predate its exit, hence the confirmation).
E2E_BASE = '''
import sys
sys.path.insert(0, {strategies!r})
from pandas import DataFrame
from freqtrade.persistence import Trade
from cwts_sample_strategy import CwtsSampleStrategy


class E2EBase(CwtsSampleStrategy):
    startup_candle_count = 0
    process_only_new_candles = False

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        q = self.engine_quote(metadata["pair"])
        # Only with the engine attached and its book valid: proves the read path is live.
        if q is not None and q.book_valid and len(dataframe) and not Trade.get_trades_proxy(is_open=False):
            dataframe.loc[dataframe.index[-1], ["enter_long", "enter_tag"]] = (1, "e2e")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe

    def confirm_trade_entry(self, pair, order_type, amount, rate, time_in_force, current_time,
                            entry_tag, side, **kwargs) -> bool:
        return not Trade.get_trades_proxy(is_open=False)
'''

def roi_exit_strategy(entry_type, extra=""):
    """An entry of `entry_type`, then an ROI of -100 %: the trade exits at the next loop."""
    return E2E_BASE + """

class E2EStrategy(E2EBase):
    minimal_roi = {{"0": -1}}
    stoploss = -0.5
    order_types = {{"entry": "%s", "exit": "market", "stoploss": "market",
                   "stoploss_on_exchange": False}}
%s""" % (entry_type, extra)


ROI_STRATEGY = roi_exit_strategy("market")

# A limit entry 3 % under the market that rests until unfilledtimeout cancels it, then a limit entry
# at the ask that fills, then the stoploss (a hair under the open rate) closes the trade: FreqTrade
# values the exit at the 10th bid of the book (LiveRun's exit_pricing), ticks under the ask it paid
# even if the market ticks up after the fill.
LIMIT_STRATEGY = E2E_BASE + '''

class E2EStrategy(E2EBase):
    minimal_roi = {{"0": 100}}
    stoploss = -0.0000001  # a hair under the open rate: the 10th bid is below it
    order_types = {{"entry": "limit", "exit": "market", "stoploss": "market",
                   "stoploss_on_exchange": False}}
    unfilledtimeout = {{"entry": 3, "exit": 30, "unit": "seconds"}}
    entries = 0

    def custom_entry_price(self, pair, trade, current_time, proposed_rate, entry_tag, side, **kwargs):
        E2EStrategy.entries += 1
        return proposed_rate * 0.97 if E2EStrategy.entries == 1 else proposed_rate
'''


# An IOC limit entry at the ask for more than the best ask level holds (~1.8 BTC): part fills, the
# venue expires the rest; the trade keeps the filled part and the exit sells exactly that.
PARTIAL_STRATEGY = roi_exit_strategy(
    "limit", '''    order_time_in_force = {{"entry": "IOC", "exit": "GTC"}}
''')


class LiveRun:
    """cwtsd with its gateway on cwts-sim, and FreqTrade (dry_run false) trading through it until
    one trade is closed. Afterwards: FreqTrade's orders and trades, the venue's orders and trades."""

    def __init__(self, sim, tmp_path, strategy_src, enable_ws=False, stake_amount=50,
                 engine_symbols=None):
        import sqlite3
        from conftest import GATEWAY_KEY, GATEWAY_SECRET, API_KEY, API_SECRET
        from test_gateway import GATEWAY, gateway_url, signed
        # The account holds BTC from before, so FreqTrade's exit sells the whole amount it bought,
        # commission included: a little more than the engine's position (the buy's commission was
        # taken in BTC). That sells the account's holdings, which the engine refuses by default
        # (NO_INVENTORY): these runs allow it, as an operator in that situation would
        # (docs/freqtrade.md).
        risk = {"max_order_notional": "100000", "max_open_orders": 20, "price_band_bps": 500,
                "sell_account_holdings": True}
        overrides = {"gateway": GATEWAY, "risk": risk}
        if engine_symbols is not None:  # what the engine trades before FreqTrade asks for more
            overrides["market"] = {"symbols": engine_symbols, "timeframes": ["1m", "5m"]}
        self.engine = Engine(sim, tmp_path, overrides=overrides)

        def btc_balance():
            status, acct = signed(sim.url, "GET", "/api/v3/account", {}, API_KEY, API_SECRET)
            assert status == 200, acct
            return sum(float(b["free"]) + float(b["locked"]) for b in acct["balances"] if b["asset"] == "BTC")
        self.btc_before = btc_balance()
        try:
            url = gateway_url(self.engine)
            strat_dir = tmp_path / "strategies"
            strat_dir.mkdir()
            (strat_dir / "e2e_strategy.py").write_text(strategy_src.format(strategies=str(STRATEGIES)))
            ex = exchange_config(sim)
            ex["key"], ex["secret"] = GATEWAY_KEY, GATEWAY_SECRET
            api = {k: url + "/api/v3" for k in ("public", "private", "v3")}
            api["v1"] = url + "/api/v1"
            if enable_ws:  # FreqTrade watches candles on the gateway's market streams
                ex["enable_ws"] = True
                api["ws"] = {"spot": url.replace("http://", "ws://") + "/ws"}
            ex["ccxt_config"]["urls"] = {"api": api}
            # cwts-sim's synthetic market has no history: let FreqTrade use the live candle at
            # once instead of waiting a minute for the first closed one.
            ex["_ft_has_params"] = {"ohlcv_partial_candle": False}
            config = base_config(sim, tmp_path, dry_run=False, initial_state="running",
                                 bot_name="cwts-live", cancel_open_orders_on_exit=False, exchange=ex,
                                 stake_amount=stake_amount, max_open_trades=1,
                                 entry_pricing={"price_side": "other", "use_order_book": False},
                                 exit_pricing={"price_side": "other", "use_order_book": True,
                                               "order_book_top": 10})
            cfg = json.loads(config.read_text())
            cfg.pop("fee", None)  # FreqTrade takes the fees from the gateway's trades
            config.write_text(json.dumps(cfg))
            log = tmp_path / "freqtrade.log"
            with open(log, "w") as f:
                ft = subprocess.Popen(FREQTRADE + ["trade", "-c", str(config), "--strategy-path", str(strat_dir),
                                                   "-s", "E2EStrategy", "--logfile", str(tmp_path / "ft-file.log")],
                                      stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path,
                                      env=dict(os.environ, CWTS_INSTANCE=self.engine.instance))
            db = tmp_path / "trades.sqlite"

            def closed_trades():
                try:
                    with sqlite3.connect(db) as c:
                        return c.execute("select id from trades where is_open = 0").fetchall()
                except sqlite3.Error:
                    return []
            self.text = lambda: log.read_text() + ((tmp_path / "ft-file.log").read_text() if (tmp_path / "ft-file.log").exists() else "")
            try:
                assert wait_until(lambda: "cwts: attached to engine instance " + self.engine.instance in self.text(),
                                  timeout=90), self.text()[-4000:]
                assert wait_until(lambda: db.exists() and closed_trades(), timeout=120, step=0.5), self.text()[-6000:]
            finally:
                ft.send_signal(2)  # SIGINT: FreqTrade's clean stop
                try:
                    ft.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    ft.kill()
            with sqlite3.connect(db) as c:
                self.orders = c.execute("select ft_order_side, order_id, status, filled, average, cost, ft_trade_id from orders "
                                        "order by cast(order_id as integer)").fetchall()
                self.trade_fees = c.execute("select fee_open_cost, fee_open_currency, open_rate, fee_close_cost, "
                                            "fee_close_currency, id from trades where is_open = 0").fetchall()
                self.exit_reasons = [r[0] for r in c.execute("select exit_reason from trades where is_open = 0")]
            # FreqTrade may open its next trade before it stops: the closed trade's orders.
            closed_ids = {r[0] for r in closed_trades()}
            self.closed_orders = [o for o in self.orders if o[6] in closed_ids]
            status, self.venue_orders = signed(sim.url, "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, API_KEY, API_SECRET)
            assert status == 200
            status, self.venue_trades = signed(sim.url, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, API_KEY, API_SECRET)
            assert status == 200
            self.btc_after = btc_balance()
            import cwts_bridge
            with cwts_bridge.attach(self.engine.instance) as b:
                self.position = b.position("BTCUSDT").qty
        finally:
            if self.engine.proc.poll() is None:
                assert self.engine.stop() == 0

    def assert_orders_match(self, venue_orders, venue_status=None):
        """One venue order per FreqTrade order, in the same sequence, with FreqTrade's fills."""
        assert len(venue_orders) == len(self.orders), (venue_orders, self.orders)
        statuses = venue_status or ["FILLED" if o in self.closed_orders else v["status"]
                                    for o, v in zip(self.orders, venue_orders)]
        for (side, _, _, filled, average, cost, _), v, st in zip(self.orders, venue_orders, statuses):
            assert v["side"] == side.upper() and v["status"] == st, (v, st)
            assert float(v["executedQty"]) == pytest.approx(filled, rel=1e-9)
            assert float(v["cummulativeQuoteQty"]) == pytest.approx(cost, rel=1e-6)
        # Fees FreqTrade booked are the venue's, in the asset the venue charged: the entry's in BTC
        # (so FreqTrade's trade holds what the venue credited), the exit's in USDT.
        # (FreqTrade may have opened its next trade before it stopped: the closed one's orders.)
        assert len(self.trade_fees) == 1, self.trade_fees
        closed = {v["orderId"] for o, v in zip(self.orders, venue_orders) if o[6] == self.trade_fees[0][5]}

        def venue_commission(is_buyer):
            ts = [t for t in self.venue_trades if t["isBuyer"] == is_buyer and t["orderId"] in closed]
            assets = {t["commissionAsset"] for t in ts}
            assert len(assets) == 1, ts
            return sum(float(t["commission"]) for t in ts), assets.pop()
        buy_fee, buy_asset = venue_commission(True)
        sell_fee, sell_asset = venue_commission(False)
        assert (buy_asset, sell_asset) == ("BTC", "USDT")
        open_cost, open_cur, open_rate, close_cost, close_cur, _ = self.trade_fees[0]
        assert (open_cur, close_cur) == (buy_asset, sell_asset)
        # FreqTrade values each fee in the stake currency (the BTC one at the entry's price).
        assert open_cost == pytest.approx(buy_fee * open_rate, rel=1e-6)
        assert close_cost == pytest.approx(sell_fee, rel=1e-6)
        # The engine's position is what the account holds: the venue's net fills less the
        # commissions it took in BTC, i.e. the BTC balance change. (FreqTrade sells the whole amount
        # here: the account held BTC before, so it takes the BTC commission from that "dust"; on an
        # account without it FreqTrade would sell the amount less the commission.)
        net = sum(float(t["qty"]) * (1 if t["isBuyer"] else -1) for t in self.venue_trades)
        all_btc_fees = sum(float(t["commission"]) for t in self.venue_trades if t["commissionAsset"] == "BTC")
        assert self.position == pytest.approx(net - all_btc_fees, abs=1e-12)
        assert self.btc_after - self.btc_before == pytest.approx(self.position, abs=1e-9)


def test_live_market_entry_and_roi_exit_reach_the_venue_exactly_once(synthetic_sim, tmp_path):
    run = LiveRun(synthetic_sim, tmp_path, ROI_STRATEGY, enable_ws=True)
    assert run.exit_reasons == ["roi"]
    assert [o[0] for o in run.closed_orders] == ["buy", "sell"], run.orders
    assert all(o[2] == "closed" for o in run.closed_orders), run.orders
    run.assert_orders_match(run.venue_orders)


def test_live_limit_entry_unfilled_timeout_and_stoploss(synthetic_sim, tmp_path):
    run = LiveRun(synthetic_sim, tmp_path, LIMIT_STRATEGY)
    assert run.exit_reasons == ["stop_loss"]
    # The first entry rested 3 % under the market until FreqTrade's unfilledtimeout cancelled it
    # through the gateway: the venue cancelled it, unfilled (FreqTrade drops such a trade).
    cancelled, rest = run.venue_orders[0], run.venue_orders[1:]
    assert cancelled["status"] == "CANCELED" and float(cancelled["executedQty"]) == 0, cancelled
    assert "cancel" in run.text().lower()
    assert [o[0] for o in run.closed_orders] == ["buy", "sell"], run.orders
    assert all(o[2] == "closed" for o in run.closed_orders), run.orders
    run.assert_orders_match(rest)


def test_live_partial_fill_kept_and_exited(synthetic_sim, tmp_path):
    run = LiveRun(synthetic_sim, tmp_path, PARTIAL_STRATEGY, stake_amount=90000)
    assert run.exit_reasons == ["roi"]
    # An IOC entry priced at the ask FreqTrade saw fills nothing when the synthetic market has moved
    # up by the time it arrives: the venue expires it whole and FreqTrade drops that trade (as it
    # does an unfilled limit). The trade that closed starts at the first entry that filled.
    orders = run.venue_orders
    while orders and orders[0]["status"] == "EXPIRED" and float(orders[0]["executedQty"]) == 0:
        orders = orders[1:]
    entry, exit_ = orders[:2]  # (then, perhaps, the next trade's entry)
    # The entry filled in part; the venue expired the rest (IOC).
    assert entry["status"] == "EXPIRED" and 0 < float(entry["executedQty"]) < float(entry["origQty"]), json.dumps(entry)
    assert [o[0] for o in run.closed_orders] == ["buy", "sell"], run.orders
    assert 0 < float(exit_["executedQty"]) <= float(entry["executedQty"])
    run.assert_orders_match(orders, ["EXPIRED", "FILLED"] + [v["status"] for v in orders[2:]])


def test_freqtrade_started_with_a_pair_the_engine_did_not_have_trades_it(synthetic_sim, tmp_path):
    # Issue 18: the engine starts with ETHUSDT only; FreqTrade's pair_whitelist is BTC/USDT.
    # CwtsStrategy.bot_start asks the engine for it (symbols.add over the control plane, found
    # through the control file and token the engine writes on this host), reloads the markets the
    # gateway now lists it in, and the trade reaches the venue.
    run = LiveRun(synthetic_sim, tmp_path, ROI_STRATEGY, engine_symbols=["ETHUSDT"])
    assert "cwts: the engine trades ['BTCUSDT'] (added now: ['BTCUSDT'])" in run.text()
    assert run.exit_reasons == ["roi"]
    assert [o[0] for o in run.closed_orders] == ["buy", "sell"], run.orders
    run.assert_orders_match(run.venue_orders)
