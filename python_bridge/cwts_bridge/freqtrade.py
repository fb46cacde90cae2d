"""FreqTrade helpers: pair names and OHLCV files in FreqTrade's JSON data format."""
from __future__ import annotations

import json
import pathlib


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
