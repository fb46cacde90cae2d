"""cwts_bridge — a CWTS Ultra engine's market data and signal slots, from Python.

    import cwts_bridge
    with cwts_bridge.attach("demo", slot=-1) as b:
        print(b.symbols(), b.quote("BTCUSDT"))
        seq = b.submit("BTCUSDT", "buy", 0.001, price=50000.0)
        print(b.wait_report(seq, timeout=5))

Every read is one native call (seqlock retries happen in C++); `wait()` and `wait_report()`
release the GIL. See docs/python_bridge.md.
"""
from __future__ import annotations

import math
from decimal import Decimal, ROUND_DOWN, ROUND_HALF_EVEN
from typing import Iterator, NamedTuple, Optional

from . import _native
from ._native import (  # noqa: F401  (re-exported)
    CwtsError,
    EngineNotRunning,
    EngineRestarted,
    LAYOUT_HASH,
    LAYOUT_VERSION,
    RingFull,
    SlotTaken,
    UnknownSymbol,
    VersionMismatch,
)

__all__ = [
    "attach", "Bridge", "Quote", "Event", "Report", "Position", "CwtsError", "EngineNotRunning",
    "EngineRestarted", "VersionMismatch", "SlotTaken", "RingFull", "UnknownSymbol",
    "REPORT_KINDS", "REJECT_REASONS", "TERMINAL",
]

SIDES = {"buy": 1, "sell": 2}
TYPES = {"limit": 1, "market": 2, "limit_maker": 3}
TIFS = {"GTC": 1, "IOC": 2, "FOK": 3}
REPORT_KINDS = {1: "ACCEPTED", 2: "REJECTED", 3: "NEW", 4: "PARTIALLY_FILLED", 5: "FILLED",
                6: "CANCELLED", 7: "EXPIRED", 8: "STATUS_UNKNOWN"}
TERMINAL = frozenset({"REJECTED", "FILLED", "CANCELLED", "EXPIRED"})
REJECT_REASONS = {
    0: "NONE", 1: "UNKNOWN_SYMBOL", 2: "BAD_SIDE", 3: "BAD_TYPE", 4: "BAD_VALUE", 5: "TICK_SIZE",
    6: "STEP_SIZE", 7: "MIN_QTY", 8: "MAX_QTY", 9: "MIN_NOTIONAL", 10: "MAX_NOTIONAL",
    11: "PRICE_BAND", 12: "MAX_POSITION", 13: "MAX_OPEN_ORDERS", 14: "STALE",
    15: "REPLAYED_SEQUENCE", 16: "RATE_LIMITED", 17: "TRADING_HALTED", 18: "BOOK_NOT_VALID",
    19: "SLOT_NOT_AUTHORISED", 20: "PERCENT_PRICE", 21: "VENUE_REJECTED", 22: "VENUE_UNAVAILABLE",
    23: "REDUCE_ONLY", 24: "UNKNOWN_ORDER", 25: "SHUTDOWN",
    26: "JOURNAL_UNAVAILABLE", 27: "NO_INVENTORY", 28: "BOOK_STALE",
}
TIMEFRAMES = {"1s": 1, "1m": 60, "3m": 180, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600,
              "2h": 7200, "4h": 14400, "6h": 21600, "8h": 28800, "12h": 43200, "1d": 86400,
              "3d": 259200, "1w": 604800}


class Quote(NamedTuple):
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    last: float
    last_size: float
    last_side: int          # 1 buy (aggressor), 2 sell, 0 none yet
    update_id: int
    exchange_ts_ns: int
    receive_ts_ns: int
    publish_ts_ns: int
    book_valid: bool


class Event(NamedTuple):
    kind: str       # quote | trade | book | candle | status | lapped
    symbol: str
    seq: int        # ring sequence; for "lapped": how many events were skipped
    update_id: int
    exchange_ts_ns: int
    receive_ts_ns: int
    publish_ts_ns: int
    a: float        # quote/book: bid px; trade: px; candle: close; status: book_valid
    b: float        # quote/book: bid qty; trade: qty; candle: volume
    c: float        # quote/book: ask px; trade: side; candle: timeframe index
    d: float        # quote/book: ask qty


_native._set_event_type(Event)  # events() builds Event records natively


class Report(NamedTuple):
    seq: int
    kind: str           # ACCEPTED, REJECTED, NEW, PARTIALLY_FILLED, FILLED, CANCELLED, EXPIRED
    reason: str         # REJECT_REASONS name (NONE unless rejected/expired by the engine)
    symbol: str
    side: str
    client_order_id: str
    venue_order_id: int
    last_qty: float
    last_px: float
    cum_qty: float
    avg_px: float
    fee: float          # cumulative, quote asset
    venue_code: int     # e.g. Binance -2010
    ts_ns: int
    fee_native: float   # cumulative commission as the venue charged it, in fee_asset
    fee_asset: str      # e.g. "BTC" for a buy of BTCUSDT; "" = quote asset (fee_native == fee)
    # The engine run the report came from (its start time, ns: Bridge.epoch then). A report whose
    # epoch is not the one its seq was sent in is an earlier run's order, recovered from the
    # journal and reported to the slot's holder now: match it by client_order_id, not by seq.
    epoch: int = 0

    @property
    def terminal(self) -> bool:
        return self.kind in TERMINAL


class Position(NamedTuple):
    qty: float
    avg_px: float
    realized_pnl: float
    fees: float
    open_orders: int


def _report(t) -> Report:
    seq, kind, reason, sym, side, cid, oid, lq, lp, cq, ap, fee, code, ts, fee_native, fee_asset, epoch = t
    if not fee_asset:
        fee_native = fee
    return Report(seq, REPORT_KINDS.get(kind, str(kind)), REJECT_REASONS.get(reason, str(reason)), sym,
                  {1: "buy", 2: "sell"}.get(side, ""), cid, oid, lq, lp, cq, ap, fee, code, ts,
                  fee_native, fee_asset, epoch)


def _to_units(name: str, value, decimals: int, increment: int, round_mode: Optional[str]) -> int:
    """A float or Decimal as an exact integer count of 10^-decimals, on the increment grid."""
    if round_mode not in (None, "down", "nearest"):
        raise ValueError(f"round must be None, 'down' or 'nearest', not {round_mode!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise TypeError(f"{name} must be a number, not {type(value).__name__}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be finite, not {value}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {value}")
    # repr() of a float is the shortest decimal that round-trips: 0.1 -> "0.1", not 0.1000000000000000055.
    d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    scaled = d.scaleb(decimals)
    units = int(scaled.to_integral_value(ROUND_HALF_EVEN if round_mode == "nearest" else ROUND_DOWN))
    if increment > 0:
        if round_mode == "nearest":
            units = int((Decimal(units) / increment).to_integral_value(ROUND_HALF_EVEN)) * increment
        elif round_mode == "down":
            units = units // increment * increment
    if round_mode is None and (Decimal(units) != scaled or (increment > 0 and units % increment)):
        step = Decimal(increment).scaleb(-decimals) if increment else Decimal(1).scaleb(-decimals)
        raise ValueError(f"{name} {value} is not a multiple of the symbol's increment {step.normalize()}; "
                         f"round it, or pass round='down' or round='nearest'")
    if units <= 0:
        raise ValueError(f"{name} {value} rounds to zero at the symbol's increment")
    return units


class Bridge:
    """One attachment to an engine instance. Use `attach()`; a context manager."""

    def __init__(self, native: _native.NativeBridge):
        self._n = native
        self._events_buffer: list[Event] = []

    # -- lifetime --------------------------------------------------------------------------
    def close(self) -> None:
        """Releases the signal slot and unmaps the regions."""
        self._n.close()

    def __enter__(self) -> "Bridge":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def epoch(self) -> int:
        """The engine's start time (ns); changes when the engine restarts."""
        return self._n.epoch

    @property
    def slot(self) -> Optional[int]:
        """The claimed signal slot; None without one (or while it waits to claim it again)."""
        return self._n.slot

    @property
    def next_seq(self) -> int:
        """The sequence number the next submit() or cancel() will get."""
        return self._n.next_seq

    # -- market data -----------------------------------------------------------------------
    def symbols(self) -> list[str]:
        return self._n.symbols()

    def quote(self, symbol: str) -> Quote:
        return Quote(*self._n.quote(symbol))

    def book(self, symbol: str, depth: int = 20):
        """(bid_px, bid_qty, ask_px, ask_qty) NumPy arrays, best first, from one consistent
        snapshot, plus its update id and validity: (bids_px, bids_qty, asks_px, asks_qty, update_id, valid)."""
        return self._n.book(symbol, depth)

    def events(self, max_events: int = 4096) -> Iterator[Event]:
        """New events since the last call (the first call starts at attach time). A lap — events
        overwritten before they were read — is yielded as Event(kind="lapped", seq=<skipped>)."""
        return iter(self._n.events(max_events))  # Event records, made natively

    def wait(self, timeout: float = 1.0) -> bool:
        """Blocks (GIL released) until an event is published; False at the timeout. A close() from
        another thread makes it raise CwtsError; a reattach makes it wait on the new engine."""
        return self._n.wait(timeout)

    def candles(self, symbol: str, timeframe: str = "1m", partial: bool = False):
        """Closed candles (and the live one with partial=True) as a pandas DataFrame in
        FreqTrade's OHLCV format: date (UTC), open, high, low, close, volume."""
        import numpy as np
        import pandas as pd
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {timeframe!r}; one of {', '.join(TIMEFRAMES)}")
        t, o, h, l, c, v, n, closed = self._n.candles(symbol, TIMEFRAMES[timeframe], partial)
        return pd.DataFrame({
            "date": pd.to_datetime(np.asarray(t), unit="ms", utc=True),
            "open": np.asarray(o, dtype="float64"),
            "high": np.asarray(h, dtype="float64"),
            "low": np.asarray(l, dtype="float64"),
            "close": np.asarray(c, dtype="float64"),
            "volume": np.asarray(v, dtype="float64"),
        })

    def timeframes(self) -> list[str]:
        inv = {s: k for k, s in TIMEFRAMES.items()}
        return [inv.get(s, f"{s}s") for s in self._n.timeframes()]

    def indicators(self, symbol: str) -> dict[str, float]:
        return self._n.indicators(symbol)

    def position(self, symbol: str) -> Position:
        return Position(*self._n.position(symbol))

    def status(self) -> dict:
        return self._n.status()

    # -- signals ---------------------------------------------------------------------------
    def submit(self, symbol: str, side: str, qty, price=None, type: str = "limit", tif: str = "GTC",
               ttl_ms: int = 0, tag: Optional[str] = None, reduce_only: bool = False,
               round: Optional[str] = None) -> int:
        """Sends a signal; returns its sequence number. Floats become exact ticks and steps of the
        symbol; a value off the grid raises ValueError unless round='down' or 'nearest'."""
        # The common case in one native call (exact units in C++, equal to _to_units: tested);
        # -1: anything else, nothing sent, and the checks below decide and raise.
        seq = self._n.submit_fast(symbol, side, qty, price, type, tif, ttl_ms, tag, reduce_only, round)
        if seq >= 0:
            return seq
        if side not in SIDES:
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if type not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, not {type!r}")
        px_dec, qty_dec, tick, step = self._n.symbol_meta(symbol)
        q = _to_units("qty", qty, qty_dec, step, round)
        if type == "market":
            if price is not None:
                raise ValueError("a market order takes no price")
            p, tif_code = 0, 0
        else:
            if price is None:
                raise ValueError(f"a {type} order needs a price")
            p = _to_units("price", price, px_dec, tick, round)
            if type == "limit_maker":
                tif_code = 0
            elif tif in TIFS:
                tif_code = TIFS[tif]
            else:
                raise ValueError(f"tif must be GTC, IOC or FOK, not {tif!r}")
        if not isinstance(ttl_ms, int) or ttl_ms < 0:
            raise ValueError("ttl_ms must be a non-negative int (0 = the engine's default)")
        return self._n.submit_raw(symbol, SIDES[side], TYPES[type], tif_code, p, q, ttl_ms, tag or "", reduce_only)

    def cancel(self, seq: int) -> int:
        """Cancels the order of signal `seq`; returns the cancel signal's own sequence number."""
        return self._n.cancel(seq)

    def reports(self) -> list[Report]:
        """Execution reports that arrived since the last call, in order."""
        return [_report(t) for t in self._n.reports()]

    def wait_report(self, seq: int, timeout: float = 5.0) -> Optional[Report]:
        """The terminal report of signal `seq` (GIL released while waiting), or None. Only a report
        of the engine epoch `seq` was sent in matches. A close() from another thread makes it raise
        CwtsError."""
        t = self._n.wait_report(seq, timeout)
        return None if t is None else _report(t)


def attach(instance: str = "default", slot: Optional[int] = None, name: str = "python",
           reattach: bool = True, shm_dir: str = "", hugepage_dir: str = "") -> Bridge:
    """Attaches to the engine serving `instance`: maps its market region read-only and, with
    `slot` (an index, or -1 for any free one), claims a signal slot. Raises EngineNotRunning,
    VersionMismatch or SlotTaken with what to do. With reattach=True (default) an engine restart
    is followed transparently (new epoch; while no engine serves the instance calls raise
    EngineNotRunning and the next call tries again); otherwise calls raise EngineRestarted.
    A bridge belongs to the process that attached it: a forked child must attach its own."""
    return Bridge(_native.NativeBridge(instance, slot, name, shm_dir, hugepage_dir, reattach))
