"""FreqTrade helpers: pair names, OHLCV files in FreqTrade's JSON data format, and asking the
engine (its control plane's `symbols.add`) for FreqTrade's pairs."""
from __future__ import annotations

import json
import os
import pathlib
from typing import Optional


class ControlUnavailable(RuntimeError):
    """The engine's control plane cannot be reached or refused the token (the pairs were not
    asked for)."""


class ControlError(RuntimeError):
    """The control plane answered the call with an error (e.g. a pair not on the venue)."""


def engine_control(method: str, params: Optional[dict] = None, *, instance: str = "default",
                   url: Optional[str] = None, token: Optional[str] = None,
                   token_file: Optional[str] = None, shm_dir: str = "/dev/shm",
                   timeout: float = 15.0):
    """One JSON-RPC call on the engine's control plane; returns its result.

    Where: `url` (`ws://HOST:PORT/ws`), else the control file the engine writes while it runs on
    this host, `<shm_dir>/cwts-<instance>.control` (HOST:PORT). The token: `token`, else the first
    line of `token_file`, else (same host) the one the engine generated for this run,
    `<shm_dir>/cwts-<instance>.token` (readable by the engine's user only: run FreqTrade as that
    user, or configure a token file). Raises ControlUnavailable / ControlError."""
    try:
        from websockets.sync.client import connect
    except ImportError as e:  # websockets < 11
        raise ControlUnavailable(f"the websockets package (>= 11) is needed: {e}") from e
    base = pathlib.Path(shm_dir)
    if url is None:
        control_file = base / f"cwts-{instance}.control"
        try:
            url = f"ws://{control_file.read_text().splitlines()[0].strip()}/ws"
        except (OSError, IndexError) as e:
            raise ControlUnavailable(f"no control address in {control_file}: is the engine "
                                     f"(instance {instance}) running on this host? ({e})") from e
    if token is None:
        path = pathlib.Path(token_file) if token_file else base / f"cwts-{instance}.token"
        try:
            token = path.read_text().splitlines()[0].strip()
        except (OSError, IndexError) as e:
            raise ControlUnavailable(f"no control token in {path}: {e}") from e
    headers = {"Authorization": f"Bearer {token}"}
    try:
        try:
            ws = connect(url, additional_headers=headers, open_timeout=timeout)
        except TypeError:  # websockets < 14 names it extra_headers
            ws = connect(url, extra_headers=headers, open_timeout=timeout)
    except Exception as e:  # OSError, TimeoutError, InvalidHandshake, InvalidURI
        raise ControlUnavailable(f"no engine control plane answers at {url}: {e}") from e
    with ws:
        msg = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            msg["params"] = params
        ws.send(json.dumps(msg))
        while True:  # notifications (none unless subscribed) are skipped
            reply = json.loads(ws.recv(timeout=timeout))
            if reply.get("id") == 1:
                break
    if "error" in reply:
        err = reply["error"]
        if err.get("code") == -32001:
            raise ControlUnavailable(err.get("message", "unauthorized"))
        raise ControlError(err.get("message", str(err)))
    return reply["result"]


def add_pairs(pairs, **where) -> list:
    """Asks the engine to trade FreqTrade's `pairs` ("BTC/USDT" -> BTCUSDT): the control plane's
    `symbols.add`. Returns [{symbol, id, added}]; `where` as engine_control's keywords."""
    symbols = []
    for p in pairs:
        s = pair_to_symbol(p)
        if s not in symbols:
            symbols.append(s)
    if not symbols:
        return []
    return engine_control("symbols.add", {"symbols": symbols}, **where)["symbols"]


def pair_to_symbol(pair: str) -> str:
    """'BTC/USDT' (FreqTrade/ccxt) -> 'BTCUSDT' (Binance, the engine)."""
    return pair.split(":")[0].replace("/", "").upper()


def pair_to_filename(pair: str) -> str:
    """FreqTrade's file name for a pair ('BTC/USDT' -> 'BTC_USDT')."""
    out = pair
    for ch in "/ .@$+: ":
        out = out.replace(ch, "_")
    return out


def write_ohlcv_json(df, datadir, pair: str, timeframe: str) -> pathlib.Path:
    """Writes a FreqTrade OHLCV DataFrame (date UTC, open, high, low, close, volume) as
    `{datadir}/{PAIR}-{timeframe}.json`: an array of [epoch ms, o, h, l, c, v] rows, FreqTrade's
    "json" data format (dataformat_ohlcv = "json")."""
    import pandas as pd
    path = pathlib.Path(datadir) / f"{pair_to_filename(pair)}-{timeframe.replace('1M', '1Mo')}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    ms = (pd.to_datetime(df["date"], utc=True).astype("int64") // 1_000_000).tolist()
    rows = [[int(t), float(o), float(h), float(l), float(c), float(v)]
            for t, o, h, l, c, v in zip(ms, df["open"], df["high"], df["low"], df["close"], df["volume"])]
    path.write_text(json.dumps(rows))
    return path
