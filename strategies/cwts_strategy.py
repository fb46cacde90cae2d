"""CwtsStrategy: a FreqTrade IStrategy base that reads the CWTS engine through cwts_bridge and
routes entries and exits to the engine as signals.

Live and dry-run (`freqtrade trade`): `bot_start` attaches to the engine (instance from the
strategy's `cwts_instance`, or the `CWTS_INSTANCE` environment variable) and claims a signal slot.
`populate_*` can use `self.engine_candles(pair)` (engine candles incl. the live partial one),
`self.engine_book(pair)`, `self.engine_quote(pair)` and `self.engine_indicators(pair)` — shared
memory reads, no REST calls. Every entry and exit FreqTrade decides on is sent to the engine in
`confirm_trade_entry` / `confirm_trade_exit`, which waits for the engine's terminal report and lets
FreqTrade go ahead only if the engine executed it (FILLED or partially filled then ended).

Backtesting and hyperopt: no engine; the engine_* helpers return None and confirmations pass
through, so the same strategy backtests on FreqTrade's data.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Optional

from freqtrade.enums import RunMode
from freqtrade.strategy import IStrategy

logger = logging.getLogger(__name__)

try:
    import cwts_bridge
    from cwts_bridge.freqtrade import pair_to_symbol
except ImportError:  # the bridge is not installed in this FreqTrade environment
    cwts_bridge = None

    def pair_to_symbol(pair: str) -> str:
        return pair.split(":")[0].replace("/", "").upper()


class CwtsStrategy(IStrategy):
    INTERFACE_VERSION = 3

    # Which engine and slot; the environment overrides (CWTS_INSTANCE, CWTS_SLOT).
    cwts_instance: str = "default"
    cwts_slot: int = -1
    # How long an entry/exit waits for the engine's terminal report.
    cwts_report_timeout: float = 10.0
    # Signal time-to-live (0 = the engine's default).
    cwts_ttl_ms: int = 0

    def bot_start(self, **kwargs) -> None:
        self.cwts = None
        self.cwts_reports: list = []
        runmode = self.config.get("runmode")
        if runmode not in (RunMode.DRY_RUN, RunMode.LIVE):
            return
        if cwts_bridge is None:
            raise RuntimeError("cwts_bridge is not installed in this environment: "
                               "pip install <cwts>/python_bridge (see docs/freqtrade.md)")
        instance = os.environ.get("CWTS_INSTANCE", self.cwts_instance)
        slot = int(os.environ.get("CWTS_SLOT", self.cwts_slot))
        self.cwts = cwts_bridge.attach(instance, slot=slot, name=f"freqtrade:{self.__class__.__name__}")
        logger.info("cwts: attached to engine instance %s, slot %s, symbols %s",
                    instance, self.cwts.slot, self.cwts.symbols())

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

    # -- routing to the engine -----------------------------------------------------------------
    def _route(self, pair: str, side: str, order_type: str, amount: float, rate: float, reduce_only: bool) -> bool:
        if getattr(self, "cwts", None) is None:
            return True
        symbol = pair_to_symbol(pair)
        try:
            if order_type == "market":
                seq = self.cwts.submit(symbol, side, amount, type="market", ttl_ms=self.cwts_ttl_ms,
                                       reduce_only=reduce_only, round="down")
            else:
                seq = self.cwts.submit(symbol, side, amount, price=rate, type="limit", tif="GTC",
                                       ttl_ms=self.cwts_ttl_ms, reduce_only=reduce_only, round="nearest")
        except (ValueError, cwts_bridge.CwtsError) as e:
            logger.warning("cwts: %s %s %s not sent: %s", side, amount, pair, e)
            return False
        report = self.cwts.wait_report(seq, self.cwts_report_timeout)
        self.cwts_reports.extend(self.cwts.reports())
        if report is None:
            logger.warning("cwts: no terminal report for signal %s within %.1fs", seq, self.cwts_report_timeout)
            return False
        self.cwts_reports.append(report)
        logger.info("cwts: signal %s %s %s %s -> %s %s cum_qty=%s avg_px=%s fee=%s (%s)", seq, side, amount, pair,
                    report.kind, report.reason, report.cum_qty, report.avg_px, report.fee, report.client_order_id)
        return report.cum_qty > 0

    def confirm_trade_entry(self, pair: str, order_type: str, amount: float, rate: float,
                            time_in_force: str, current_time: datetime, entry_tag: Optional[str],
                            side: str, **kwargs) -> bool:
        return self._route(pair, "buy" if side == "long" else "sell", order_type, amount, rate, False)

    def confirm_trade_exit(self, pair: str, trade, order_type: str, amount: float, rate: float,
                           time_in_force: str, exit_reason: str, current_time: datetime, **kwargs) -> bool:
        return self._route(pair, "sell" if not trade.is_short else "buy", order_type, amount, rate, True)
