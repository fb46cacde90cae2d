"""FreqTrade in the soak (bench/soak/soak.py; docs/reliability.md): a real FreqTrade (from PyPI),
live (dry_run false), trading through cwtsd's gateway while everything else runs and the faults
fall, and the check of what it did against the venue's own records.

Its strategy enters every pair it may and leaves at the next loop (an ROI of -100 %), with market
orders: FreqTrade locks a pair for the rest of a candle after an exit, so each pair trades about
once a minute. Across the engine's restarts FreqTrade keeps its order ids; the gateway's journal
answers for them (docs/gateway.md)."""
from __future__ import annotations

import json
import os
import pathlib
import signal
import sqlite3
import subprocess
import sys

GATEWAY_KEY = "soakGatewayKey0123456789"
GATEWAY_SECRET = "soakGatewaySecret0123456789abcdef"
GATEWAY_SLOT = 15

STRATEGY = '''
from pandas import DataFrame
from freqtrade.strategy import IStrategy


class SoakStrategy(IStrategy):
    """In at once, out at the next loop: as many orders as FreqTrade will place."""
    INTERFACE_VERSION = 3
    timeframe = "1m"
    startup_candle_count = 0
    process_only_new_candles = False
    minimal_roi = {"0": -1}
    stoploss = -0.5
    order_types = {"entry": "market", "exit": "market", "stoploss": "market",
                   "stoploss_on_exchange": False}

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["enter_long"] = 0
        if len(dataframe):
            dataframe.loc[dataframe.index[-1], ["enter_long", "enter_tag"]] = (1, "soak")
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        dataframe["exit_long"] = 0
        return dataframe
'''


class FreqTradeBot:
    def __init__(self, tmp: pathlib.Path, gateway_port: int, symbols: list[str]):
        self.dir = tmp / "freqtrade"
        for d in ("user_data", "strategies", "data"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        (self.dir / "strategies" / "soak_strategy.py").write_text(STRATEGY)
        url = f"http://127.0.0.1:{gateway_port}"
        api = {k: url + "/api/v3" for k in ("public", "private", "v3")}
        api["v1"] = url + "/api/v1"
        pairs = [s[:-4] + "/USDT" for s in symbols]
        self.db = self.dir / "trades.sqlite"
        self.config = self.dir / "config.json"
        self.config.write_text(json.dumps({
            "bot_name": "cwts-soak", "dry_run": False, "initial_state": "running",
            "stake_currency": "USDT", "stake_amount": 30, "max_open_trades": len(pairs),
            "timeframe": "1m", "dataformat_ohlcv": "json", "cancel_open_orders_on_exit": False,
            # Prices from the order book: the gateway answers it from the engine's live book (no
            # venue look-up, no request weight); a ticker would be looked up at the venue.
            "entry_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
            "exit_pricing": {"price_side": "other", "use_order_book": True, "order_book_top": 1},
            "pairlists": [{"method": "StaticPairList"}],
            "exchange": {
                "name": "binance", "key": GATEWAY_KEY, "secret": GATEWAY_SECRET, "enable_ws": False,
                "pair_whitelist": pairs,
                # cwts-sim's synthetic markets have no history: the live candle at once.
                "_ft_has_params": {"ohlcv_partial_candle": False},
                "ccxt_config": {"enableRateLimit": False,
                                "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                                            "fetchCurrencies": False},
                                "urls": {"api": api}},
            },
            "user_data_dir": str(self.dir / "user_data"), "datadir": str(self.dir / "data"),
            "db_url": "sqlite:///" + str(self.db),
            "internals": {"process_throttle_secs": 1},
        }))
        self.log = self.dir / "freqtrade.log"
        self.restarts = 0
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "freqtrade", "trade", "-c", str(self.config), "--strategy-path",
             str(self.dir / "strategies"), "-s", "SoakStrategy", "--logfile", str(self.log)],
            stdout=subprocess.DEVNULL, stderr=open(self.dir / "stderr.log", "a"), cwd=self.dir,
            env=dict(os.environ, PYTHONWARNINGS="ignore"))

    def supervise(self) -> None:
        """As systemd's Restart= would: FreqTrade exits when it cannot load the exchange's markets
        at its start (the engine restarting just then), and is started again."""
        if self.proc.poll() is not None:
            self.restarts += 1
            self.start()

    def stop(self) -> int:
        """FreqTrade's clean stop; its exit code (-9: it had to be killed). The KeyboardInterrupt
        FreqTrade's SIGINT (and SIGTERM) raise can be lost inside its retries' sleeps: asked
        again, then SIGTERM, then killed."""
        for sig in (signal.SIGINT, signal.SIGINT, signal.SIGTERM):
            if self.proc.poll() is not None:
                break
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
            return -9
        return self.proc.returncode

    def orders(self) -> list[dict]:
        """FreqTrade's orders (its database): what it believes each order did."""
        if not self.db.exists():
            return []
        with sqlite3.connect(self.db) as c:
            rows = c.execute("select ft_pair, ft_order_side, order_id, status, filled, ft_trade_id "
                             "from orders").fetchall()
        return [{"pair": p, "side": s, "order_id": o, "status": st, "filled": f or 0.0, "trade": t}
                for p, s, o, st, f, t in rows]

    def closed_trades(self) -> int:
        if not self.db.exists():
            return 0
        with sqlite3.connect(self.db) as c:
            return c.execute("select count(*) from trades where is_open = 0").fetchone()[0]


def gateway_seq(client_order_id: str) -> int | None:
    """The signal seq (the gateway's orderId) of a venue order the gateway sent, from the engine's
    client order id "cw" + epoch(7) + slot(2) + seq, base 36 (docs/engine.md); None otherwise."""
    if len(client_order_id) < 12 or not client_order_id.startswith("cw"):
        return None
    try:
        if int(client_order_id[9:11], 36) != GATEWAY_SLOT:
            return None
        return int(client_order_id[11:], 36)
    except ValueError:
        return None


def check(bot: FreqTradeBot, venue_orders: list[dict]) -> dict:
    """FreqTrade's orders against the venue's. Violations: an order FreqTrade holds as filled that
    the venue never had, or whose fills differ from the venue's, or two venue orders for one of
    FreqTrade's (one of its orders sent twice). Reported: venue orders FreqTrade never learned of
    (its order request got no answer, e.g. 503 -1007 while the engine restarted: FreqTrade does not
    look such an order up, as with Binance itself)."""
    venue = {}
    doubled = 0
    for o in venue_orders:
        seq = gateway_seq(o["clientOrderId"])
        if seq is None:
            continue
        doubled += seq in venue
        venue[seq] = o
    mine = bot.orders()
    not_at_venue = fills_differ = 0
    details = []
    known = set()
    for o in mine:
        if not o["order_id"]:
            continue  # FreqTrade never got an order id: nothing was placed for it
        seq = int(o["order_id"])
        known.add(seq)
        v = venue.get(seq)
        if v is None:
            if o["filled"] > 0:
                not_at_venue += 1
                details.append(f"FreqTrade order {seq} ({o['pair']}) filled {o['filled']}: not at the venue")
            continue
        if o["status"] in ("closed", "canceled", "expired") and abs(float(v["executedQty"]) - o["filled"]) > 1e-9:
            fills_differ += 1
            details.append(f"FreqTrade order {seq} ({o['pair']}) {o['status']} filled {o['filled']}, "
                           f"venue {v['status']} {v['executedQty']}")
    return {
        "violations": {"freqtrade_orders_not_at_venue": not_at_venue,
                       "freqtrade_fills_differing": fills_differ,
                       "freqtrade_orders_sent_twice": doubled},
        "orders": len(mine), "orders_filled": sum(1 for o in mine if o["filled"] > 0),
        "trades_closed": bot.closed_trades(), "venue_orders": len(venue), "restarts": bot.restarts,
        "venue_orders_unknown_to_freqtrade": sorted(set(venue) - known)[:20],
        "venue_orders_unknown_to_freqtrade_count": len(set(venue) - known),
        "details": details[:20],
    }
