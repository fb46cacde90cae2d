"""CwtsStrategy: a FreqTrade IStrategy base that reads the CWTS engine through cwts_bridge.

Live and dry-run (`freqtrade trade`): `bot_start` attaches to the engine read-only (instance from
the strategy's `cwts_instance`, or the `CWTS_INSTANCE` environment variable) and asks the engine
to trade FreqTrade's pairs (the control plane's `symbols.add`; see `cwts_control_*` below and
docs/freqtrade.md): the `pair_whitelist` and the pairlist's whitelist at start, then each pair that
joins the whitelist (dynamic pairlists such as VolumePairList) from `bot_loop_start`, in the
background. So the pairs come from FreqTrade's configuration. `populate_*` can use
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
import threading
import time
from typing import Optional

from freqtrade.enums import RunMode
from freqtrade.strategy import IStrategy

logger = logging.getLogger(__name__)

try:
    import cwts_bridge
    from cwts_bridge.freqtrade import ControlError, ControlUnavailable, add_pairs, pair_to_symbol
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

    # FreqTrade's pairlist is followed at each bot loop (bot_loop_start): pairs that join the
    # whitelist (a dynamic pairlist: VolumePairList, ...) are asked for in the background; a failed
    # request is retried after this many seconds. Pairs are never removed (the operator's call).
    cwts_follow_pairlist: bool = True
    cwts_retry_secs: float = 30.0

    def bot_start(self, **kwargs) -> None:
        self.cwts = None
        self._cwts_asked: set = set()      # symbols the engine said it trades
        self._cwts_failed_at: float = 0.0  # when a request last failed (monotonic)
        self._cwts_job = None              # the background request: (thread, result dict)
        runmode = self.config.get("runmode")
        if runmode not in (RunMode.DRY_RUN, RunMode.LIVE):
            return
        if cwts_bridge is None:
            raise RuntimeError("cwts_bridge is not installed in this environment: "
                               "pip install <cwts>/python_bridge (see docs/freqtrade.md)")
        instance = os.environ.get("CWTS_INSTANCE", self.cwts_instance)
        self.cwts = cwts_bridge.attach(instance)  # read-only: FreqTrade trades through the gateway
        self._cwts_instance = instance
        logger.info("cwts: attached to engine instance %s, symbols %s", instance, self.cwts.symbols())
        self._cwts_add_pairs(instance)

    def _cwts_where(self, instance: str) -> Optional[dict]:
        """The control plane's address (add_pairs' keywords), or None if adding is off."""
        opts = self.config.get("cwts", {}) or {}
        if not opts.get("add_pairs", self.cwts_add_pairs):
            return None
        return {
            "instance": instance,
            "url": self.cwts_control_url or opts.get("control_url") or os.environ.get("CWTS_CONTROL_URL"),
            "token_file": (self.cwts_control_token_file or opts.get("control_token_file")
                           or os.environ.get("CWTS_CONTROL_TOKEN_FILE")),
            "shm_dir": opts.get("shm_dir", "/dev/shm"),
        }

    def _cwts_whitelist(self) -> list:
        """FreqTrade's current whitelist (the pairlist's result), [] if there is none yet."""
        try:
            return list(self.dp.current_whitelist()) if self.dp is not None else []
        except Exception:  # no pairlist provider (e.g. utility modes)
            return []

    def _cwts_add_pairs(self, instance: str) -> None:
        where = self._cwts_where(instance)
        if where is None:
            return
        # The static pair_whitelist: a pair the venue does not list stops the bot (ControlError).
        pairs = list(self.config.get("exchange", {}).get("pair_whitelist", []))
        try:
            added = add_pairs(pairs, **where)
        except ControlUnavailable as e:
            logger.warning("cwts: could not ask the engine for the pairs %s (%s); they must be in "
                           "its market.symbols", pairs, e)
            self._cwts_failed_at = time.monotonic()
            return
        if added:
            self._cwts_note(added)
        # The pairlist's pairs (computed before bot_start): asked for now, so the first loop
        # trades them; a failure is a warning and bot_loop_start asks again.
        dynamic = [p for p in self._cwts_whitelist() if pair_to_symbol(p) not in self._cwts_asked]
        if dynamic:
            self._cwts_note(self._cwts_request(dynamic, where))

    def _cwts_request(self, pairs: list, where: dict) -> list:
        """add_pairs for a dynamic whitelist: all at once, or, if the engine refuses the batch
        (it is all or nothing: e.g. its symbol table is full), one by one. Never raises."""
        try:
            return add_pairs(pairs, **where)
        except ControlError as e:
            if len(pairs) == 1:
                logger.warning("cwts: the engine did not add %s: %s", pairs[0], e)
                return []
        except Exception as e:  # ControlUnavailable, a lost connection, ...
            logger.warning("cwts: could not ask the engine for the pairs %s (%s); retrying later",
                           pairs, e)
            return []
        return [a for p in pairs for a in self._cwts_request([p], where)]

    def _cwts_note(self, added: list) -> None:
        """Records what the engine said it trades; reloads FreqTrade's markets if a new symbol
        was not in them (the gateway could not list the venue's markets: ADR 0026)."""
        self._cwts_asked.update(a["symbol"] for a in added)
        new = [a["symbol"] for a in added if a["added"]]
        logger.info("cwts: the engine trades %s (added now: %s)", [a["symbol"] for a in added], new)
        if new and self.dp is not None:
            exchange = getattr(self.dp, "_exchange", None)
            markets = getattr(exchange, "markets", None) or {}
            known = {m.get("id") for m in markets.values()}
            if exchange is not None and any(s not in known for s in new):
                # FreqTrade filters its whitelist against its markets: the gateway lists the new
                # symbols from now on, so they join the whitelist at the next loop.
                exchange.reload_markets(force=True)

    def bot_loop_start(self, current_time=None, **kwargs) -> None:
        """Follows FreqTrade's pairlist: pairs new to the whitelist are asked for (symbols.add)
        on a background thread; the answer is taken at a later loop. Never blocks, never raises."""
        if getattr(self, "cwts", None) is None or not self.cwts_follow_pairlist:
            return
        job = self._cwts_job
        if job is not None:
            thread, result = job
            if thread.is_alive():
                return
            self._cwts_job = None
            if result.get("added"):
                self._cwts_note(result["added"])
            if set(result["symbols"]) - self._cwts_asked:
                self._cwts_failed_at = time.monotonic()
        where = self._cwts_where(self._cwts_instance)
        if where is None:
            return
        wanted = [p for p in self._cwts_whitelist() if pair_to_symbol(p) not in self._cwts_asked]
        if not wanted or time.monotonic() - self._cwts_failed_at < self.cwts_retry_secs:
            return
        result = {"symbols": [pair_to_symbol(p) for p in wanted]}

        def run():
            result["added"] = self._cwts_request(wanted, where)

        thread = threading.Thread(target=run, name="cwts-add-pairs", daemon=True)
        self._cwts_job = (thread, result)
        thread.start()

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
