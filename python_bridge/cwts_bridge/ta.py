"""TA-Lib-compatible indicators on the engine's kernels.

The functions have TA-Lib's names, argument names, defaults and outputs, so a strategy switches
with one import::

    import cwts_bridge.ta as talib          # instead of: import talib
    ema = talib.EMA(close, timeperiod=20)
    macd, signal, hist = talib.MACD(close)

Inputs are anything NumPy turns into a 1-D float64 array; a pandas Series comes back as a Series
on the same index, and a DataFrame (``talib.abstract`` style: columns open/high/low/close/volume)
gives a Series, or a DataFrame named by the outputs. Outputs equal TA-Lib's (the same warm-up
NaNs, the same values), leading NaNs in the inputs are skipped as TA-Lib's module does, and the
GIL is released while a kernel runs.

``batch()`` runs one indicator over many series (symbols) and many parameter sets at once, on the
widest SIMD the CPU has (``isa()``; ``CWTS_TA_ISA=scalar|avx2|avx512`` forces one). See
docs/indicators.md.
"""
from __future__ import annotations

import inspect
from typing import Any, Sequence

import numpy as np

from . import _native

__all__ = ["batch", "get_functions", "isa", "isa_calls", "isa_supported", "lookback", "set_isa"]

_SPECS: dict[str, dict[str, Any]] = {}
for _kind, _s in enumerate(_native.ta_specs()):
    _s["kind"] = _kind
    _s["_index"] = {p[0]: i for i, p in enumerate(_s["params"])}
    _SPECS[_s["name"]] = _s
_PRICE_COLUMN = {"real": "close", "high": "high", "low": "low", "close": "close", "volume": "volume"}


def get_functions() -> list[str]:
    """The indicator names this module provides (TA-Lib names, plus VWAP)."""
    return list(_SPECS)


def isa() -> str:
    """The instruction set ``batch()`` runs on: 'scalar', 'avx2' or 'avx512'."""
    return _native.ta_isa()


def set_isa(name: str) -> None:
    """Forces an instruction set for this process (ValueError if the CPU lacks it)."""
    _native.ta_set_isa(name)


def isa_supported(name: str) -> bool:
    return _native.ta_isa_supported(name)


def isa_calls() -> dict[str, int]:
    """Kernel calls served per instruction set since start."""
    return dict(_native.ta_isa_calls())


def _param_values(spec: dict[str, Any], given: dict[str, Any]) -> list[float]:
    values = [p[1] for p in spec["params"]]
    index = spec["_index"]
    for name, v in given.items():
        i = index.get(name)
        if i is None:
            raise TypeError(f"{spec['name']}() got an unexpected argument '{name}'")
        if v is not None:
            values[i] = float(v)
    return values


def lookback(name: str, **params: Any) -> int:
    """Leading NaN outputs of an indicator with these parameters (TA-Lib's lookback)."""
    spec = _SPECS[name.upper()]
    return _native.ta_lookback(spec["name"], _param_values(spec, dict(params)))


def _vector(x: Any, what: str) -> np.ndarray:
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    return a


def _make(kind: int, spec: dict[str, Any]):
    name: str = spec["name"]
    inputs: list[str] = spec["inputs"]
    outputs: list[str] = spec["outputs"]
    n_in, n_out = len(inputs), len(outputs)
    pnames = [p[0] for p in spec["params"]]
    defaults = [p[1] for p in spec["params"]]
    index = spec["_index"]
    run = _native.ta_run
    empty = np.empty
    ndarray = np.ndarray
    f64 = np.dtype(np.float64)

    def general(args: tuple, kwargs: dict):
        frame = None
        if args and _is_dataframe(args[0]):
            frame, rest = args[0], list(args[1:])
            cols = {i: kwargs.pop("price", "close") if i == "real" else _PRICE_COLUMN[i] for i in inputs}
            arrays = [frame[cols[i]] for i in inputs]
        else:
            rest = list(args[n_in:])
            arrays = list(args[:n_in])
            for i in inputs[len(arrays):]:
                if i not in kwargs:
                    raise TypeError(f"{name}() missing input '{i}'")
                arrays.append(kwargs.pop(i))
        if len(rest) > len(pnames):
            raise TypeError(f"{name}() takes {n_in + len(pnames)} positional arguments")
        for pname, v in zip(pnames, rest):
            if pname in kwargs:
                raise TypeError(f"{name}() got multiple values for '{pname}'")
            kwargs[pname] = v
        values = _param_values(spec, kwargs)
        index_ = getattr(arrays[0], "index", None) if _is_series(arrays[0]) else None
        vecs = [_vector(a, i) for a, i in zip(arrays, inputs)]
        n = len(vecs[0])
        if any(len(v) != n for v in vecs):
            raise ValueError("input array lengths are different")
        outs = [empty(n) for _ in outputs]
        run(kind, values, vecs, outs)
        if frame is not None:
            import pandas as pd

            if n_out == 1:
                return pd.Series(outs[0], index=frame.index)
            return pd.DataFrame(dict(zip(outputs, outs)), index=frame.index)
        if index_ is not None:
            import pandas as pd

            wrapped = [pd.Series(o, index=index_) for o in outs]
            return wrapped[0] if n_out == 1 else tuple(wrapped)
        return outs[0] if n_out == 1 else tuple(outs)

    def indicator(*args: Any, **kwargs: Any):
        # Fast path: float64 contiguous 1-D arrays, parameters by position or name.
        if len(args) >= n_in and len(args) <= n_in + len(pnames):
            arrays = args[:n_in]
            fast = True
            for a in arrays:
                if type(a) is not ndarray or a.dtype != f64 or a.ndim != 1 or not a.flags.c_contiguous:
                    fast = False
                    break
            if fast:
                values = list(defaults)
                for i, v in enumerate(args[n_in:]):
                    values[i] = float(v)
                for k, v in kwargs.items():
                    i = index.get(k)
                    if i is None or (i < len(args) - n_in):
                        return general(args, kwargs)  # the general path words the error
                    if v is not None:
                        values[i] = float(v)
                n = len(arrays[0])
                outs = [empty(n) for _ in range(n_out)]
                run(kind, values, list(arrays), outs)
                return outs[0] if n_out == 1 else tuple(outs)
        return general(args, dict(kwargs))

    params = [inspect.Parameter(i, inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in inputs]
    params += [
        inspect.Parameter(p[0], inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          default=int(p[1]) if p[4] else p[1])
        for p in spec["params"]
    ]
    indicator.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    indicator.__name__ = indicator.__qualname__ = name
    indicator.__doc__ = (
        f"{name}({', '.join(inputs)}{''.join(f', {p[0]}={int(p[1]) if p[4] else p[1]}' for p in spec['params'])})"
        f" -> {', '.join(outputs)}\n\nTA-Lib semantics on the cwts kernels; see cwts_bridge.ta."
    )
    return indicator


def _is_series(x: Any) -> bool:
    return type(x).__name__ == "Series" and hasattr(x, "index")


def _is_dataframe(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def batch(name: str, *inputs: Any, **params: Any):
    """One indicator over many series and many parameter sets.

    Each input is a 2-D array (series x bars), or 1-D for a single series. Each parameter is a
    scalar or a sequence; sequences (all of one length P) are zipped into P parameter sets. Returns
    an array of shape (P, series, bars) per output (a tuple for MACD, BBANDS, STOCH, STOCHF); P is
    1 when every parameter is a scalar. Series run in SIMD lanes; results equal the one-series
    functions bit for bit.
    """
    spec = _SPECS[name.upper()]
    if len(inputs) != len(spec["inputs"]):
        raise TypeError(f"{spec['name']}: expected inputs {', '.join(spec['inputs'])}")
    mats = []
    for a, what in zip(inputs, spec["inputs"]):
        m = np.ascontiguousarray(a, dtype=np.float64)
        if m.ndim == 1:
            m = m.reshape(1, -1)
        if m.ndim != 2:
            raise ValueError(f"{what} must be 1-D or 2-D, got shape {m.shape}")
        mats.append(m)
    shape = mats[0].shape
    if any(m.shape != shape for m in mats):
        raise ValueError("input array shapes are different")
    lengths = {len(v) for v in params.values() if isinstance(v, Sequence) or isinstance(v, np.ndarray)}
    if len(lengths) > 1:
        raise ValueError("parameter sequences must have one length")
    count = lengths.pop() if lengths else 1
    sets = [
        {k: (v[i] if isinstance(v, Sequence) or isinstance(v, np.ndarray) else v) for k, v in params.items()}
        for i in range(count)
    ]
    outs = [np.empty((count,) + shape, dtype=np.float64) for _ in spec["outputs"]]
    for i, ps in enumerate(sets):
        values = _param_values(spec, {k: (v.item() if isinstance(v, np.generic) else v) for k, v in ps.items()})
        _native.ta_run_many(spec["kind"], values, mats, [o[i] for o in outs])
    return outs[0] if len(outs) == 1 else tuple(outs)


for _spec in _SPECS.values():
    globals()[_spec["name"]] = _make(_spec["kind"], _spec)
    __all__.append(_spec["name"])
del _spec, _s, _kind
