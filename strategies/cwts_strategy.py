"""CwtsStrategy: a FreqTrade IStrategy base that reads the CWTS engine through cwts_bridge.

Live and dry-run (`freqtrade trade`): `bot_start` attaches to the engine read-only (instance from
the strategy's `cwts_instance`, or the `CWTS_INSTANCE` environment variable) and asks the engine
to trade FreqTrade's `pair_whitelist` (the control plane's `symbols.add`; see `cwts_control_*`
below and docs/freqtrade.md), so the pairs come from FreqTrade's configuration. `populate_*` can use
`self.engine_candles(pair)` (engine candles incl. the live partial one), `self.engine_book(pair)`,
`self.engine_quote(pair)`, `self.engine_indicators(pair)` and `self.book_imbalance(pair)` —
shared-memory reads, no REST calls.

Orders are not placed here. FreqTrade places them itself, through the engine's gateway: its ccxt
client's URLs point at cwtsd, which is FreqTrade's exchange (docs/freqtrade.md). So every entry,
exit, stoploss, DCA order and cancel goes through the engine exactly once, and FreqTrade's trades
are the venue's fills. (Sending orders from `confirm_trade_*` as well would execute them twice.)

Backtesting and hyperopt: no engine; the engine_* helpers return None and confirmations pass
through, so the same strategy backtests on FreqTrade's data.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

from freqtrade.enums import RunMode
from freqtrade.strategy import IStrategy

logger = logging.getLogger(__name__)

try:
    import cwts_bridge
    from cwts_bridge.freqtrade import ControlUnavailable, add_pairs, pair_to_symbol
except ImportError:  # the bridge is not installed in this FreqTrade environment
    cwts_bridge = None

    def pair_to_symbol(pair: str) -> str:
        return pair.split(":")[0].replace("/", "").upper()


class CwtsStrategy(IStrategy):
    INTERFACE_VERSION = 3

    # Which engine; the environment overrides (CWTS_INSTANCE).
    cwts_instance: str = "default"
    # FreqTrade's pairs are added to the engine at bot_start (symbols.add). Its control plane:
    # these, else FreqTrade's config "cwts": {"control_url", "control_token_file", "shm_dir",
    # "add_pairs"}, else $CWTS_CONTROL_URL / $CWTS_CONTROL_TOKEN_FILE, else (same host) the
    # control file and generated token the engine writes in its region dir (/dev/shm).
    cwts_add_pairs: bool = True
    cwts_control_url: Optional[str] = None
    cwts_control_token_file: Optional[str] = None

    def bot_start(self, **kwargs) -> None:
        self.cwts = None
        runmode = self.config.get("runmode")
        if runmode not in (RunMode.DRY_RUN, RunMode.LIVE):
            return
        if cwts_bridge is None:
            raise RuntimeError("cwts_bridge is not installed in this environment: "
                               "pip install <cwts>/python_bridge (see docs/freqtrade.md)")
        instance = os.environ.get("CWTS_INSTANCE", self.cwts_instance)
        self.cwts = cwts_bridge.attach(instance)  # read-only: FreqTrade trades through the gateway
        logger.info("cwts: attached to engine instance %s, symbols %s", instance, self.cwts.symbols())
        self._cwts_add_pairs(instance)

    def _cwts_add_pairs(self, instance: str) -> None:
        opts = self.config.get("cwts", {}) or {}
        if not opts.get("add_pairs", self.cwts_add_pairs):
            return
        pairs = list(self.config.get("exchange", {}).get("pair_whitelist", []))
        where = {
            "instance": instance,
            "url": self.cwts_control_url or opts.get("control_url") or os.environ.get("CWTS_CONTROL_URL"),
            "token_file": (self.cwts_control_token_file or opts.get("control_token_file")
                           or os.environ.get("CWTS_CONTROL_TOKEN_FILE")),
            "shm_dir": opts.get("shm_dir", "/dev/shm"),
        }
        try:
            added = add_pairs(pairs, **where)  # ControlError (e.g. not on the venue) stops the bot
        except ControlUnavailable as e:
            logger.warning("cwts: could not ask the engine for the pairs %s (%s); they must be in "
                           "its market.symbols", pairs, e)
            return
        new = [a["symbol"] for a in added if a["added"]]
        logger.info("cwts: the engine trades %s (added now: %s)", [a["symbol"] for a in added], new)
        if new and self.dp is not None:
            # The gateway lists the new symbols in its exchangeInfo from now on; FreqTrade loaded
            # its markets (and filtered the whitelist against them) before bot_start, so it loads
            # them again: the pairs join the whitelist at the next bot loop.
            exchange = getattr(self.dp, "_exchange", None)
            if exchange is not None:
                exchange.reload_markets(force=True)

    # -- engine reads (None when there is no engine: backtesting) ------------------------------
    def engine_candles(self, pair: str, timeframe: Optional[str] = None, partial: bool = True):
        if getattr(self, "cwts", None) is None:
            return None
        return self.cwts.candles(pair_to_symbol(pair), timeframe or self.timeframe, partial=partial)

    def engine_book(self, pair: str, depth: int = 20):
        if getattr(self, "cwts", None) is None:
            return None
        return self.cwts.book(pair_to_symbol(pair), depth)

    def engine_quote(self, pair: str):
        if getattr(self, "cwts", None) is None:
            return None
        return self.cwts.quote(pair_to_symbol(pair))

    def engine_indicators(self, pair: str) -> Optional[dict]:
        if getattr(self, "cwts", None) is None:
            return None
        return self.cwts.indicators(pair_to_symbol(pair))

    def book_imbalance(self, pair: str, depth: int = 10) -> Optional[float]:
        """(bid qty - ask qty) / (bid qty + ask qty) over the top `depth` levels, in [-1, 1]."""
        book = self.engine_book(pair, depth)
        if book is None:
            return None
        _, bq, _, aq, _, valid = book
        total = float(bq.sum() + aq.sum())
        return None if not valid or total == 0 else float(bq.sum() - aq.sum()) / total
