"""cwts_bridge.remote — a CWTS Ultra engine over its control plane's WebSocket, for a strategy that
cannot map the engine's shared memory (another host, a container without the region volume).

    import asyncio, cwts_bridge.remote as remote

    async def main():
        async with await remote.connect("ws://127.0.0.1:8080/ws", token=TOKEN, slot=3) as b:
            print(b.symbols(), await b.quote("BTCUSDT"))
            seq = await b.submit("BTCUSDT", "buy", 0.001, price=50000.0)
            print(await b.wait_report(seq, timeout=5))

    asyncio.run(main())

The surface is `Bridge`'s, awaited: the same records (Quote, Event, Report, Position), the same
exceptions, the same validation and exactly one terminal report per signal (the engine runs the
same intake for both). Market data arrives as the engine publishes it; while this client reads
slower than the engine publishes, quotes and books are conflated to the latest value and a
"lapped" Event says how many trades or candle closes were lost. docs/remote.md.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from typing import AsyncIterator, Optional

from . import (
    SIDES, TIFS, TIMEFRAMES, TYPES, CwtsError, EngineNotRunning, EngineRestarted, Event, Position,
    Quote, Report, RingFull, SlotTaken, UnknownSymbol, VersionMismatch, _report, _to_units,
)

__all__ = ["connect", "RemoteBridge", "Unauthorized"]

_EXCEPTIONS = {
    "CwtsError": CwtsError, "EngineNotRunning": EngineNotRunning,
    "EngineRestarted": EngineRestarted, "VersionMismatch": VersionMismatch,
    "SlotTaken": SlotTaken, "RingFull": RingFull, "UnknownSymbol": UnknownSymbol,
    "ValueError": ValueError, "TypeError": TypeError,
}
_MAX_BUFFERED_EVENTS = 65536


class Unauthorized(CwtsError):
    """The token is missing, unknown, or lacks the scope the call needs."""


def _scale(raw: int, decimals: int) -> float:
    # As the native module does (double(raw) / 10^decimals): equal floats from either bridge.
    return float(raw) / 10.0 ** decimals


class _Symbol:
    __slots__ = ("name", "id", "px_dec", "qty_dec", "tick", "step")

    def __init__(self, d: dict):
        self.name, self.id = d["symbol"], d["id"]
        self.px_dec, self.qty_dec = d["price_decimals"], d["qty_decimals"]
        self.tick, self.step = d["tick"], d["step"]


class RemoteBridge:
    """One connection to an engine. Use `connect()`; an async context manager."""

    def __init__(self, ws, hello: dict, opener, reconnect: bool):
        self._ws = ws
        self._open = opener  # () -> (ws, hello): a new connection, for reconnecting
        self._reconnect = reconnect
        self._install(hello)
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future] = {}
        self._events: deque = deque()
        self._lost = 0  # events dropped from a full local buffer, not yet reported
        self._event_ready = asyncio.Event()
        self._reports: deque[Report] = deque()
        self._report_ready = asyncio.Event()
        self._terminal: dict[int, Report] = {}  # terminal reports for wait_report, newest last
        self._slot: Optional[int] = None
        # (slot asked for, name, slot granted, epoch granted in): claimed again on reconnect
        self._claim_args: Optional[tuple[int, str, int, int]] = None
        self._restore_error: Optional[BaseException] = None  # the slot could not be claimed again
        self._subscriptions: list[tuple[str, dict]] = []  # replayed on reconnect
        self._next_seq = 1
        # The engine run each of this client's recent signals was sent to (seq -> epoch): a report
        # of another run with the same seq is not about that signal (an earlier run's order,
        # recovered from its journal and reported to the slot's holder now).
        self._sent_epoch: dict[int, int] = {}
        # Signals whose reply was lost with the connection: seq -> (epoch, symbol, side). Settled
        # when the slot is claimed again (its "last_seq" says whether the engine took them).
        self._in_doubt: dict[int, tuple[int, str, str]] = {}
        self._closed: Optional[BaseException] = None  # close() or a connection that stays lost
        self._down: Optional[BaseException] = None  # while reconnecting
        self._reader = asyncio.get_running_loop().create_task(self._run())

    def _install(self, hello: dict) -> None:
        self._hello = hello
        self._by_name = {s["symbol"]: _Symbol(s) for s in hello["symbols"]}
        self._by_id = {s.id: s for s in self._by_name.values()}

    def _add_symbols(self, entries: list) -> None:
        for d in entries:
            if d["symbol"] not in self._by_name:
                self._hello["symbols"].append(d)
                self._by_name[d["symbol"]] = self._by_id[d["id"]] = _Symbol(d)

    # -- lifetime --------------------------------------------------------------------------
    async def close(self) -> None:
        """Closes the connection: the engine releases the slot (reports of signals still open
        wait in the slot for its next holder, as with a shared-memory strategy)."""
        if self._closed is None:
            self._closed = CwtsError("the remote bridge is closed")
        await self._ws.close()
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):
            pass

    async def __aenter__(self) -> "RemoteBridge":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    @property
    def epoch(self) -> int:
        """The engine's start time (ns); changes when the bridge reconnects to a restarted engine."""
        return self._hello["epoch_ns"]

    @property
    def slot(self) -> Optional[int]:
        return self._slot

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def scopes(self) -> dict:
        """What this client's token may do: {"read": bool, "admin": bool, "trade": [slots]}."""
        return self._hello["scopes"]

    # -- the connection --------------------------------------------------------------------
    async def _run(self) -> None:
        """Reads the connection; with reconnect, opens a new one whenever it is lost (the engine
        restarted, the network dropped) and restores the subscriptions and the slot."""
        while True:
            lost = await self._read()
            if self._closed is not None or not self._reconnect:
                self._closed = self._closed or lost
                self._fail_pending(self._closed)
                return
            self._down = EngineNotRunning(f"{lost}; reconnecting")
            self._fail_pending(self._down)
            delay = 0.05
            while self._closed is None:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                try:
                    ws, hello = await self._open()
                except (Unauthorized, VersionMismatch) as e:  # it will not get better by retrying
                    self._closed = e
                    self._fail_pending(e)
                    return
                except CwtsError:
                    continue
                self._ws = ws
                self._install(hello)
                self._down = None
                asyncio.get_running_loop().create_task(self._restore())
                break

    async def _restore(self) -> None:
        try:
            for method, params in list(self._subscriptions):
                await self._call(method, params)
            if self._claim_args is not None:
                self._slot = None
                self._restore_error = None
                asked, name, granted, epoch = self._claim_args
                # The same engine (a dropped connection): the same slot, whose last seq settles
                # the signals in doubt. A restarted engine: a slot asked for as "any" (-1) is any
                # slot again, since another strategy may hold the old index by now.
                want = -1 if asked < 0 and self.epoch != epoch else granted
                # The engine may not have noticed yet that the old connection is gone (it holds
                # the slot until then): try again for a while.
                delay, give_up = 0.05, asyncio.get_running_loop().time() + 30.0
                while True:
                    try:
                        await self._claim(want, name)
                        break
                    except SlotTaken:
                        if asyncio.get_running_loop().time() > give_up:
                            raise
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 1.0)
                self._claim_args = (asked, name, self._slot, self.epoch)
        except CwtsError as e:
            # Reported to the next call: the connection's loss as EngineNotRunning, a slot that
            # could not be claimed again as CwtsError naming why.
            if self._claim_args is not None and self._slot is None:
                self._restore_error = e

    async def _read(self) -> BaseException:
        """Until the connection ends; returns why."""
        try:
            async for text in self._ws:
                msg = json.loads(text)
                if "id" in msg:
                    fut = self._calls.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                elif msg.get("method") == "market.events":
                    self._take_events(msg["params"]["events"])
                elif msg.get("method") == "market.symbols":  # added to the engine (symbols.add)
                    self._add_symbols(msg["params"]["symbols"])
                elif msg.get("method") == "slot.reports":
                    for row in msg["params"]["reports"]:
                        self._take_report(row)
            return EngineNotRunning("the engine closed the connection (stopped, restarted, or dropped this client)")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - any transport error ends the connection
            return EngineNotRunning(f"the connection to the engine was lost: {e}")

    def _fail_pending(self, why: BaseException) -> None:
        for fut in self._calls.values():
            if not fut.done():
                fut.set_exception(why)
        self._calls.clear()
        self._event_ready.set()
        self._report_ready.set()

    def _check(self) -> None:
        if self._closed is not None:
            raise self._closed
        if self._down is not None:
            raise self._down

    async def _call(self, method: str, params: Optional[dict] = None):
        self._check()
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._calls[rid] = fut
        req = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params:
            req["params"] = params
        try:
            await self._ws.send(json.dumps(req, separators=(",", ":")))
        except Exception as e:  # noqa: BLE001
            self._calls.pop(rid, None)
            raise EngineNotRunning(f"the connection to the engine was lost: {e}") from e
        msg = await fut
        if "error" in msg:
            raise _error(msg["error"])
        return msg["result"]

    def _sym(self, symbol: str) -> _Symbol:
        try:
            return self._by_name[symbol]
        except KeyError:
            raise UnknownSymbol(f"unknown symbol {symbol!r}: the engine trades "
                                f"{', '.join(self._by_name)}") from None

    def _take_events(self, rows: list) -> None:
        for row in rows:
            kind = row[0]
            if kind == "lapped":
                ev = Event("lapped", "", row[2], 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0)
            else:
                m = self._by_id.get(row[1])
                pd, qd = (m.px_dec, m.qty_dec) if m else (8, 8)
                a, b, c, d = row[7], row[8], row[9], row[10]
                if kind in ("quote", "book"):
                    a, b, c, d = _scale(a, pd), _scale(b, qd), _scale(c, pd), _scale(d, qd)
                elif kind in ("trade", "candle"):
                    a, b, c, d = _scale(a, pd), _scale(b, qd), float(c), float(d)
                else:
                    a, b, c, d = float(a), float(b), float(c), float(d)
                ev = Event(kind, m.name if m else "", row[2], row[3], row[4], row[5], row[6], a, b, c, d)
            if len(self._events) >= _MAX_BUFFERED_EVENTS:
                self._events.popleft()
                self._lost += 1
            self._events.append(ev)
        self._event_ready.set()

    def _take_report(self, row: list) -> None:
        seq, kind, reason, sym_id, side, cid, oid, lq, lp, cq, ap, fee, code, ts, fee_native, fee_asset = row
        m = self._by_id.get(sym_id)
        pd, qd = (m.px_dec, m.qty_dec) if m else (8, 8)
        self._deliver(_report((seq, kind, reason, m.name if m else "", side, cid, oid,
                               _scale(lq, qd), _scale(lp, pd), _scale(cq, qd), _scale(ap, pd),
                               _scale(fee, pd), code, ts, _scale(fee_native, 8), fee_asset,
                               self.epoch)))

    def _deliver(self, r: Report) -> None:
        if len(self._reports) >= _MAX_BUFFERED_EVENTS:
            self._reports.popleft()  # never read by reports(): wait_report still finds terminals
        self._reports.append(r)
        if r.terminal and self._sent_epoch.get(r.seq, r.epoch) == r.epoch:
            self._terminal[r.seq] = r
            if len(self._terminal) > _MAX_BUFFERED_EVENTS:
                del self._terminal[next(iter(self._terminal))]
        self._report_ready.set()

    # -- market data -----------------------------------------------------------------------
    def symbols(self) -> list[str]:
        return list(self._by_name)

    def timeframes(self) -> list[str]:
        inv = {s: k for k, s in TIMEFRAMES.items()}
        return [inv.get(s, f"{s}s") for s in self._hello["timeframes"]]

    async def quote(self, symbol: str) -> Quote:
        m = self._sym(symbol)
        q = await self._call("market.quote", {"symbol": symbol})
        return Quote(_scale(q["bid"], m.px_dec), _scale(q["ask"], m.px_dec),
                     _scale(q["bid_qty"], m.qty_dec), _scale(q["ask_qty"], m.qty_dec),
                     _scale(q["last"], m.px_dec), _scale(q["last_qty"], m.qty_dec), q["last_side"],
                     q["update_id"], q["exchange_ts_ns"], q["receive_ts_ns"], q["publish_ts_ns"],
                     q["book_valid"])

    async def book(self, symbol: str, depth: int = 20):
        """(bid_px, bid_qty, ask_px, ask_qty, update_id, valid), NumPy arrays best first, from one
        consistent snapshot, as Bridge.book."""
        import numpy as np
        m = self._sym(symbol)
        b = await self._call("market.book", {"symbol": symbol, "depth": depth})

        def col(key, dec):
            return np.array([_scale(x, dec) for x in b[key]], dtype="float64")
        return (col("bid_px", m.px_dec), col("bid_qty", m.qty_dec), col("ask_px", m.px_dec),
                col("ask_qty", m.qty_dec), b["update_id"], b["valid"])

    async def candles(self, symbol: str, timeframe: str = "1m", partial: bool = False):
        """Closed candles (and the live one with partial=True) as a pandas DataFrame in
        FreqTrade's OHLCV format, as Bridge.candles."""
        import numpy as np
        import pandas as pd
        if timeframe not in TIMEFRAMES:
            raise ValueError(f"unknown timeframe {timeframe!r}; one of {', '.join(TIMEFRAMES)}")
        m = self._sym(symbol)
        c = await self._call("market.candles", {"symbol": symbol, "timeframe": TIMEFRAMES[timeframe],
                                         "partial": partial})

        def col(key, dec):
            return np.array([_scale(x, dec) for x in c[key]], dtype="float64")
        return pd.DataFrame({
            "date": pd.to_datetime(np.asarray(c["open_time_ms"], dtype="int64"), unit="ms", utc=True),
            "open": col("open", m.px_dec), "high": col("high", m.px_dec),
            "low": col("low", m.px_dec), "close": col("close", m.px_dec),
            "volume": col("volume", m.qty_dec),
        })

    async def indicators(self, symbol: str) -> dict[str, float]:
        self._sym(symbol)
        return await self._call("market.indicators", {"symbol": symbol})

    async def position(self, symbol: str) -> Position:
        m = self._sym(symbol)
        p = await self._call("market.position", {"symbol": symbol})
        return Position(_scale(p["qty"], m.qty_dec), _scale(p["avg_px"], m.px_dec),
                        _scale(p["realized_pnl"], m.px_dec), _scale(p["fees"], m.px_dec),
                        p["open_orders"])

    async def status(self) -> dict:
        """The engine's `status` (the control plane's JSON-RPC method)."""
        return await self._call("status")

    async def subscribe(self, symbols: Optional[list[str]] = None,
                        kinds: Optional[list[str]] = None) -> None:
        """Market data for `symbols` (default all) of `kinds` (quote, book, trade, candle,
        status; default all), from the next event the engine publishes on."""
        params: dict = {}
        if symbols is not None:
            for s in symbols:
                self._sym(s)
            params["symbols"] = list(symbols)
        if kinds is not None:
            params["kinds"] = list(kinds)
        await self._call("market.subscribe", params)
        self._subscriptions.append(("market.subscribe", params))

    async def unsubscribe(self, symbols: Optional[list[str]] = None,
                          kinds: Optional[list[str]] = None) -> None:
        params: dict = {}
        if symbols is not None:
            params["symbols"] = list(symbols)
        if kinds is not None:
            params["kinds"] = list(kinds)
        await self._call("market.unsubscribe", params)
        self._subscriptions.append(("market.unsubscribe", params))

    def pending_events(self, max_events: int = 4096) -> list[Event]:
        """Events received and not yet taken, without waiting (Bridge.events' equivalent)."""
        out = []
        if self._lost:
            out.append(Event("lapped", "", self._lost, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0.0))
            self._lost = 0
        while self._events and len(out) < max_events:
            out.append(self._events.popleft())
        if not self._events:
            self._event_ready.clear()
        return out

    async def wait(self, timeout: float = 1.0) -> bool:
        """Until an event has arrived (True) or the timeout (False)."""
        if self._events or self._lost:
            return True
        if self._closed is not None:
            raise self._closed
        try:
            await asyncio.wait_for(self._event_ready.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        if self._closed is not None and not self._events:
            raise self._closed
        if not (self._events or self._lost):
            self._event_ready.clear()  # woken by a lost connection that is being restored
        return bool(self._events or self._lost)

    async def events(self) -> AsyncIterator[Event]:
        """Every event of the subscriptions as it arrives (a "lapped" Event for any lost)."""
        while True:
            for ev in self.pending_events():
                yield ev
            await self.wait(3600.0)

    # -- signals ---------------------------------------------------------------------------
    async def claim(self, slot: int = -1, name: str = "remote") -> int:
        """Claims signal slot `slot` (-1: any this token may trade on) for this connection;
        returns it. Raises SlotTaken (held, or not this token's), EngineNotRunning."""
        granted = await self._claim(slot, name)
        self._claim_args = (slot, name, granted, self.epoch)  # claimed again after a reconnect
        self._restore_error = None
        return granted

    async def _claim(self, slot: int, name: str) -> int:
        # next_seq: numbers continue above this client's own, across engine restarts too.
        r = await self._call("slot.claim", {"slot": slot, "name": name, "next_seq": self._next_seq})
        self._slot, self._next_seq = r["slot"], r["next_seq"]
        self._settle_in_doubt(r["epoch_ns"], r.get("last_seq", 0))
        return self._slot

    def _settle_in_doubt(self, epoch: int, last_seq: int) -> None:
        """The signals whose reply was lost, now that the slot is ours again. The engine read every
        signal of the slot's previous connection before granting the claim (ADR 0021), so
        `last_seq` (the highest number it took) tells: at or below it, the engine had the signal
        and its reports come from the engine; above it, the signal never arrived and gets its one
        terminal report here. After an engine restart the old engine's journal holds the answer:
        reported STATUS_UNKNOWN (not terminal); the order, if any, is in the restarted engine's
        open orders after reconciliation."""
        for seq, (was_epoch, symbol, side) in sorted(self._in_doubt.items()):
            if was_epoch == epoch and seq <= last_seq:
                continue
            lost = was_epoch == epoch
            self._deliver(Report(seq, "REJECTED" if lost else "STATUS_UNKNOWN",
                                 "CONNECTION_LOST" if lost else "ENGINE_RESTARTED", symbol, side,
                                 "", 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, time.time_ns(), 0.0, "",
                                 was_epoch))
        self._in_doubt.clear()

    async def release(self) -> None:
        await self._call("slot.release")
        self._slot = None
        self._claim_args = None

    async def submit(self, symbol: str, side: str, qty, price=None, type: str = "limit",
                     tif: str = "GTC", ttl_ms: int = 0, tag: Optional[str] = None,
                     reduce_only: bool = False, round: Optional[str] = None) -> int:
        """Sends a signal; returns its sequence number (Bridge.submit's arguments and checks)."""
        if side not in SIDES:
            raise ValueError(f"side must be 'buy' or 'sell', not {side!r}")
        if type not in TYPES:
            raise ValueError(f"type must be one of {', '.join(TYPES)}, not {type!r}")
        m = self._sym(symbol)
        params = {"symbol": symbol, "side": side, "type": type,
                  "qty": _to_units("qty", qty, m.qty_dec, m.step, round)}
        if type == "market":
            if price is not None:
                raise ValueError("a market order takes no price")
        else:
            if price is None:
                raise ValueError(f"a {type} order needs a price")
            params["price"] = _to_units("price", price, m.px_dec, m.tick, round)
            if type == "limit":
                if tif not in TIFS:
                    raise ValueError(f"tif must be GTC, IOC or FOK, not {tif!r}")
                params["tif"] = tif
        if not isinstance(ttl_ms, int) or ttl_ms < 0:
            raise ValueError("ttl_ms must be a non-negative int (0 = the engine's default)")
        if ttl_ms:
            params["ttl_ms"] = ttl_ms
        if tag:
            params["tag"] = tag
        if reduce_only:
            params["reduce_only"] = True
        return await self._signal("slot.submit", params, symbol, side)

    async def cancel(self, seq: int) -> int:
        """Cancels the order of signal `seq`; returns the cancel signal's own sequence number."""
        return await self._signal("slot.cancel", {"seq": seq}, "", "")

    async def _signal(self, method: str, params: dict, symbol: str, side: str) -> int:
        if self._slot is None:
            if self._restore_error is not None:
                raise CwtsError("this remote bridge lost its signal slot: it could not be claimed "
                                f"again after a reconnect ({self._restore_error}); claim() one")
            if self._claim_args is not None:  # reconnecting, or claiming the slot again
                self._check()
                raise EngineNotRunning("reconnected to the engine: the signal slot is being "
                                       "claimed again; nothing was sent")
            raise CwtsError("this remote bridge holds no signal slot: connect(slot=...) or claim()")
        self._check()  # not connected: nothing is sent
        # The number is this client's (signal_seq), taken before sending: when the connection
        # drops before the reply, the signal still has a known number, never used again.
        seq = self._next_seq
        self._next_seq = seq + 1
        epoch = self.epoch
        try:
            got = (await self._call(method, dict(params, signal_seq=seq)))["seq"]
        except EngineNotRunning as e:
            self._in_doubt[seq] = (epoch, symbol, side)
            self._sent_epoch[seq] = epoch
            doubt = EngineNotRunning(
                f"{e}; signal {seq} may or may not have reached the engine: its one terminal "
                "report follows the reconnect (the engine's, or REJECTED/CONNECTION_LOST when it "
                "never arrived)")
            doubt.seq = seq
            raise doubt from e
        except CwtsError:
            if self._next_seq == seq + 1:
                self._next_seq = seq  # refused, not sent: the number is free again
            raise
        self._next_seq = max(self._next_seq, got + 1)
        self._sent_epoch[got] = epoch
        if len(self._sent_epoch) > _MAX_BUFFERED_EVENTS:
            del self._sent_epoch[next(iter(self._sent_epoch))]
        return got

    def pending_reports(self) -> list[Report]:
        """Execution reports that arrived since the last call, in order (Bridge.reports)."""
        out = list(self._reports)
        self._reports.clear()
        self._report_ready.clear()
        return out

    async def reports(self) -> AsyncIterator[Report]:
        """Every execution report of this connection's slot, as it arrives."""
        while True:
            for r in self.pending_reports():
                yield r
            if self._closed is not None:
                raise self._closed
            await self._report_ready.wait()

    async def wait_report(self, seq: int, timeout: float = 5.0) -> Optional[Report]:
        """The terminal report of signal `seq`, or None at the timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while seq not in self._terminal:
            if self._closed is not None:
                raise self._closed
            left = deadline - loop.time()
            if left <= 0:
                return None
            self._report_ready.clear()
            try:
                await asyncio.wait_for(self._report_ready.wait(), left)
            except asyncio.TimeoutError:
                return None
        return self._terminal.pop(seq)


def _error(err: dict) -> Exception:
    name = (err.get("data") or {}).get("exception", "")
    msg = err.get("message", "error")
    if err.get("code") == -32001:
        return Unauthorized(msg)
    return _EXCEPTIONS.get(name, CwtsError)(msg)


async def _open(url: str, token: Optional[str], ssl, open_timeout: float):
    """A new connection and the engine's hello."""
    import websockets
    headers = {"Authorization": f"Bearer {token}"} if token else None
    kwargs = {"open_timeout": open_timeout, "max_size": 16 << 20}
    if ssl is not None:
        kwargs["ssl"] = ssl
    try:
        try:
            ws = await websockets.connect(url, additional_headers=headers, **kwargs)
        except TypeError:  # websockets < 14 names it extra_headers
            ws = await websockets.connect(url, extra_headers=headers, **kwargs)
    except (OSError, asyncio.TimeoutError, websockets.exceptions.InvalidHandshake) as e:
        raise EngineNotRunning(f"no engine control plane answers at {url}: {e}") from e
    try:
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 0, "method": "hello"}))
        msg = json.loads(await asyncio.wait_for(ws.recv(), open_timeout))
    except (OSError, asyncio.TimeoutError, websockets.exceptions.ConnectionClosed) as e:
        await ws.close()
        raise EngineNotRunning(f"the engine at {url} did not answer hello: {e}") from e
    if "error" in msg:
        await ws.close()
        raise _error(msg["error"])
    hello = msg["result"]
    from . import LAYOUT_VERSION
    if hello["layout_version"] != LAYOUT_VERSION:
        await ws.close()
        raise VersionMismatch(f"the engine speaks layout version {hello['layout_version']}, "
                              f"this cwts_bridge {LAYOUT_VERSION}: install the matching version")
    return ws, hello


async def connect(url: str, token: Optional[str] = None, *, slot: Optional[int] = None,
                  name: str = "remote", ssl=None, open_timeout: float = 10.0,
                  reconnect: bool = True) -> RemoteBridge:
    """Connects to an engine's control plane (`ws://HOST:PORT/ws`, or `wss://` with `ssl` an
    ssl.SSLContext trusting its certificate), authenticated by `token` (control.tokens_file).
    With `slot` (an index, or -1 for any the token may trade on) claims a signal slot. Raises
    EngineNotRunning when nothing answers, Unauthorized without the read scope.

    With reconnect=True (default), a lost connection (the engine restarted, the network dropped)
    is opened again in the background, and the subscriptions and the slot are restored (the same
    slot index; sequence numbers continue above this client's); meanwhile calls raise
    EngineNotRunning, and waits carry on. Otherwise the first loss ends the bridge."""
    async def opener():
        return await _open(url, token, ssl, open_timeout)

    ws, hello = await opener()
    bridge = RemoteBridge(ws, hello, opener, reconnect)
    if slot is not None:
        try:
            await bridge.claim(slot, name)
        except BaseException:
            await bridge.close()
            raise
    return bridge
