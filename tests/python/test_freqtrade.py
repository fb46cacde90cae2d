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


E2E_STRATEGY = '''
import sys
sys.path.insert(0, {strategies!r})
from pandas import DataFrame
from cwts_sample_strategy import CwtsSampleStrategy


class E2EStrategy(CwtsSampleStrategy):
    """The sample strategy with an entry forced on the live candle (the test needs a trade now) and
    an ROI of -100 % (every open trade exits at the next loop)."""
    startup_candle_count = 0
    minimal_roi = {{"0": -1}}
    stoploss = -0.5
    process_only_new_candles = False
    order_types = {{"entry": "market", "exit": "market", "stoploss": "market",
                   "stoploss_on_exchange": False}}

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        q = self.engine_quote(metadata["pair"])
        # Only with the engine attached and its book valid: proves the read path is live.
        if q is not None and q.book_valid and len(dataframe):
            dataframe.loc[dataframe.index[-1], ["enter_long", "enter_tag"]] = (1, "e2e")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
'''


def test_live_freqtrade_trades_through_the_gateway_exactly_once(synthetic_sim, tmp_path):
    """FreqTrade with dry_run false, its ccxt URLs at cwtsd's gateway: the entry and the ROI exit
    each reach the venue exactly once, through the engine, and FreqTrade records the venue's fills."""
    import sqlite3
    from conftest import GATEWAY_KEY, GATEWAY_SECRET, API_KEY, API_SECRET
    from test_gateway import GATEWAY, gateway_url, signed
    engine = Engine(synthetic_sim, tmp_path, overrides={"gateway": GATEWAY})
    try:
        url = gateway_url(engine)
        strat_dir = tmp_path / "strategies"
        strat_dir.mkdir()
        (strat_dir / "e2e_strategy.py").write_text(E2E_STRATEGY.format(strategies=str(STRATEGIES)))
        ex = exchange_config(synthetic_sim)
        ex["key"], ex["secret"] = GATEWAY_KEY, GATEWAY_SECRET
        api = {k: url + "/api/v3" for k in ("public", "private", "v3")}
        api["v1"] = url + "/api/v1"
        ex["ccxt_config"]["urls"] = {"api": api}
        config = base_config(synthetic_sim, tmp_path, dry_run=False, initial_state="running",
                             bot_name="cwts-live", cancel_open_orders_on_exit=False, exchange=ex,
                             stake_amount=50, max_open_trades=1,
                             entry_pricing={"price_side": "other", "use_order_book": False},
                             exit_pricing={"price_side": "other", "use_order_book": False})
        cfg = json.loads(config.read_text())
        cfg.pop("fee", None)
        config.write_text(json.dumps(cfg))
        log = tmp_path / "freqtrade.log"
        env = dict(os.environ, CWTS_INSTANCE=engine.instance)
        with open(log, "w") as f:
            ft = subprocess.Popen(FREQTRADE + ["trade", "-c", str(config), "--strategy-path", str(strat_dir),
                                               "-s", "E2EStrategy", "--logfile", str(tmp_path / "ft-file.log")],
                                  stdout=f, stderr=subprocess.STDOUT, cwd=tmp_path, env=env)
        db = tmp_path / "trades.sqlite"

        def closed_trades():
            if not db.exists():
                return []
            try:
                with sqlite3.connect(db) as c:
                    return c.execute("select id from trades where is_open = 0").fetchall()
            except sqlite3.Error:
                return []
        try:
            text = lambda: log.read_text() + ((tmp_path / "ft-file.log").read_text() if (tmp_path / "ft-file.log").exists() else "")
            assert wait_until(lambda: "cwts: attached to engine instance " + engine.instance in text(), timeout=90), text()[-4000:]
            assert wait_until(lambda: closed_trades(), timeout=120, step=0.5), text()[-6000:]
        finally:
            ft.send_signal(2)  # SIGINT: FreqTrade's clean stop
            try:
                ft.wait(timeout=60)
            except subprocess.TimeoutExpired:
                ft.kill()
        with sqlite3.connect(db) as c:
            orders = c.execute("select ft_order_side, order_id, status, filled, average, cost, ft_fee_base "
                               "from orders where ft_trade_id = (select min(id) from trades where is_open = 0)").fetchall()
            trade = c.execute("select amount, fee_open_cost, fee_close_cost from trades where is_open = 0 "
                              "order by id limit 1").fetchone()
        assert [o[0] for o in orders] == ["buy", "sell"], orders
        assert all(o[2] == "closed" for o in orders), orders
        # The venue: exactly one order per FreqTrade order, with the same fills.
        status, venue = signed(synthetic_sim.url, "GET", "/api/v3/allOrders", {"symbol": "BTCUSDT"}, API_KEY, API_SECRET)
        assert status == 200
        assert len(venue) == len(orders), (venue, orders)
        for (side, _, _, filled, average, cost, _), v in zip(orders, venue):
            assert v["side"] == side.upper() and v["status"] == "FILLED"
            assert float(v["executedQty"]) == pytest.approx(filled, rel=1e-9)
            assert float(v["cummulativeQuoteQty"]) == pytest.approx(cost, rel=1e-6)
        # Fees FreqTrade booked are the venue's (valued in the quote asset).
        status, vt = signed(synthetic_sim.url, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"}, API_KEY, API_SECRET)
        venue_fee = sum(float(t["commission"]) * (float(t["price"]) if t["commissionAsset"] == "BTC" else 1.0) for t in vt)
        assert (trade[1] or 0) + (trade[2] or 0) == pytest.approx(venue_fee, rel=1e-6)
        # The engine's position is the venue's net: bought and sold the same amount.
        import cwts_bridge
        with cwts_bridge.attach(engine.instance) as b:
            assert b.status()["fills"] >= 2
    finally:
        if engine.proc.poll() is None:
            assert engine.stop() == 0
