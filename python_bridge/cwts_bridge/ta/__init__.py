"""TA-Lib-compatible indicators on the engine's kernels.

The functions have TA-Lib's names, argument names, defaults and outputs, so a strategy switches
with one import::

    import cwts_bridge.ta as talib          # instead of: import talib
    ema = talib.EMA(close, timeperiod=20)
    macd, signal, hist = talib.MACD(close)

    import cwts_bridge.ta.abstract as ta    # instead of: import talib.abstract as ta
    dataframe["rsi"] = ta.RSI(dataframe, timeperiod=14)
    macd = ta.MACD(dataframe)               # a DataFrame: macd, macdsignal, macdhist

Calls are read as TA-Lib reads them: a DataFrame (or a dict of arrays; columns open/high/low/
close/volume, ``price=``/``prices=`` pick others), Series or NumPy arrays as inputs, parameters by
position or by name, and unknown keywords and surplus positional arguments ignored. A DataFrame
gives a Series on its index, or a DataFrame named by the outputs, as ``talib.abstract`` does; a
Series input gives a Series on its index here (as ``import talib`` does) and a bare array in
``cwts_bridge.ta.abstract`` (as ``talib.abstract`` does). Outputs equal TA-Lib's (the same warm-up
NaNs, the same values), leading NaNs in the inputs are skipped as TA-Lib does, and the GIL is
released while a long kernel runs (from 16,384 bars on the calls read in C++; always otherwise).

A function without a native kernel (``native_functions()`` lists those with one) runs TA-Lib's own,
said once per name in the log (logger ``cwts_bridge.ta``); TA-Lib must then be installed. Every
TA-Lib MA type (``matype`` 0..8, MAMA included) has a kernel.

``batch()`` runs one indicator over many series (symbols) and many parameter sets at once, on the
widest SIMD the CPU has (``isa()``; ``CWTS_TA_ISA=scalar|avx2|avx512`` forces one). See
docs/indicators.md.
"""
from __future__ import annotations

import inspect
import logging
import math
import threading
from typing import Any, Callable, Sequence

import numpy as np

from .. import _native

__all__ = ["batch", "get_functions", "isa", "isa_calls", "isa_supported", "lookback", "native_functions",
           "set_isa"]

_log = logging.getLogger("cwts_bridge.ta")
_reported: set[str] = set()  # what has been logged once (shared with cwts_bridge.ta.abstract)
_report_lock = threading.Lock()

MA_TYPES = ("SMA", "EMA", "WMA", "DEMA", "TEMA", "TRIMA", "KAMA", "MAMA", "T3")  # TA-Lib's MA_Type 0..8

_SPECS: dict[str, dict[str, Any]] = {}
for _kind, _s in enumerate(_native.ta_specs()):
    _s["kind"] = _kind
    _s["_index"] = {p[0]: i for i, p in enumerate(_s["params"])}
    _SPECS[_s["name"]] = _s


def get_functions() -> list[str]:
    """The indicator names with a native kernel (TA-Lib names, plus VWAP); see native_functions()."""
    return list(_SPECS)


def native_functions() -> list[str]:
    """The functions that run on the cwts kernels; any other TA-Lib name runs TA-Lib's own."""
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


def _report(key: str, message: str) -> None:
    """Logs ``message`` the first time ``key`` is seen in this process."""
    if key in _reported:
        return
    with _report_lock:
        if key in _reported:
            return
        _reported.add(key)
    _log.info("cwts_bridge.ta: %s", message)


def _talib(what: str):
    """The talib package (with talib.abstract loaded), or an ImportError saying what needs it."""
    try:
        import talib
        import talib.abstract  # noqa: F401
    except ImportError as e:
        raise ImportError(
            f"cwts_bridge.ta: {what} is not native and needs TA-Lib, which is not installed "
            f"(pip install TA-Lib): {e}") from e
    return talib


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
    spec = _SPECS.get(name.upper())
    if spec is None or any(not _native_ma(p[3], params.get(p[0]) or 0)
                           for p in spec["params"] if p[0] in spec["_matypes"]):
        fn = _talib(f"lookback of {name.upper()}").abstract.Function(name.upper())
        fn.set_parameters({k: v for k, v in params.items() if k in fn.parameters})
        return fn.lookback
    return _native.ta_lookback(spec["name"], _param_values(spec, dict(params)))


def _native_ma(most: float, value: float) -> bool:
    """Whether a kernel computes this matype: 0 (SMA) always; up to the parameter's maximum (8, every
    TA-Lib MA type); anything else goes to TA-Lib, which says what is wrong with it."""
    return value == 0 or value <= most


def _is_series(x: Any) -> bool:
    return type(x).__name__ == "Series" and hasattr(x, "index")


def _is_dataframe(x: Any) -> bool:
    return type(x).__name__ == "DataFrame" and hasattr(x, "columns")


def _is_array(x: Any) -> bool:
    return isinstance(x, (np.ndarray, list, tuple)) or type(x).__name__ == "Series"


def _vector(x: Any, what: str) -> np.ndarray:
    if _is_series(x):
        # A pandas Series gives its values at once; NumPy's conversion asks it first for array
        # interfaces it does not have, each a miss through pandas' __getattr__ (5 us a call).
        x = x.to_numpy()
    a = np.ascontiguousarray(x, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional, got shape {a.shape}")
    return a


class _Call:
    """What a function needs to read a call as TA-Lib does, native or TA-Lib's."""

    def __init__(self, name: str, inputs: list[str], columns: list[str], groups: list[tuple[str, bool, list[int]]],
                 params: list[tuple[str, Any, bool]], outputs: list[str]):
        self.name = name
        self.inputs = inputs            # the input arguments, as `import talib` names them
        self.columns = columns          # the DataFrame columns read by default
        self.groups = groups            # talib.abstract's input keywords: (price|prices|..., is list, inputs)
        self.params = params            # (name, default, is integer)
        self.pnames = [p[0] for p in params]
        self.index = {p[0]: i for i, p in enumerate(params)}
        self.outputs = outputs
        self.ignorable = {g[0] for g in groups} | set(inputs)

    def read(self, args: tuple, kwargs: dict):
        """(input vectors, parameter values, frame or None, Series index or None)."""
        name, n_in = self.name, len(self.inputs)
        frame = index = None
        first = args[0] if args else None
        if first is not None and (_is_dataframe(first) or isinstance(first, dict)):
            frame = first
            cols = list(self.columns)
            for kw, is_list, where in self.groups:
                v = kwargs.get(kw)
                if v is None:
                    continue
                names = [v] if isinstance(v, str) else list(v)
                if len(names) != len(where):
                    raise TypeError(f"{name}(): {kw}= names {len(where)} column(s), got {v!r}")
                for i, c in zip(where, names):
                    cols[i] = c
            missing = [c for c in cols if c not in frame]
            if missing:
                raise KeyError(f"{name}(): input missing column(s) {', '.join(map(str, missing))}")
            arrays = [frame[c] for c in cols]
            rest = args[1:]
        else:
            arrays = []
            while len(arrays) < n_in and len(arrays) < len(args) and _is_array(args[len(arrays)]):
                arrays.append(args[len(arrays)])
            rest = args[len(arrays):]
            for i in self.inputs[len(arrays):]:
                if i not in kwargs:
                    raise TypeError(f"{name}() expects {n_in} input array(s) ({', '.join(self.inputs)}); "
                                    f"missing '{i}'")
                arrays.append(kwargs[i])
            for a in arrays:
                if _is_series(a):
                    index = a.index
                    break
        values = [p[1] for p in self.params]
        for k, v in kwargs.items():
            i = self.index.get(k)
            if i is not None:
                if v is not None:
                    values[i] = v
            elif k not in self.ignorable:
                _report(f"{name} ignores {k}", f"{name} ignores the keyword '{k}' (as TA-Lib does)")
        for i, v in enumerate(rest[:len(self.params)]):  # surplus positional arguments: ignored
            if v is not None:
                values[i] = v
        vecs = [_vector(a, i) for a, i in zip(arrays, self.inputs)]
        n = len(vecs[0])
        if any(len(v) != n for v in vecs):
            raise ValueError("input array lengths are different")
        return vecs, values, frame, index

    def typed(self, values: list[Any]) -> list[Any]:
        return [int(v) if p[2] else float(v) for v, p in zip(values, self.params)]

    def wrap(self, outs: Sequence[np.ndarray], frame: Any, index: Any, abstract: bool):
        if frame is not None and _is_dataframe(frame):
            import pandas as pd

            if len(outs) == 1:
                return pd.Series(outs[0], index=frame.index)
            return pd.DataFrame(np.column_stack(outs), index=frame.index, columns=self.outputs)
        if abstract or frame is not None:
            return outs[0] if len(outs) == 1 else list(outs)
        if index is not None:
            import pandas as pd

            wrapped = tuple(pd.Series(o, index=index) for o in outs)
            return wrapped[0] if len(outs) == 1 else wrapped
        return outs[0] if len(outs) == 1 else tuple(outs)


def _native_call(spec: dict[str, Any]) -> _Call:
    inputs: list[str] = spec["inputs"]
    if inputs == ["real"]:
        groups = [("price", False, [0])]
    elif inputs == ["real", "volume"]:  # OBV
        groups = [("price", False, [0]), ("prices", True, [1])]
    else:
        groups = [("prices", True, list(range(len(inputs))))]
    columns = ["close" if i == "real" else i for i in inputs]
    params = [(p[0], int(p[1]) if p[4] else p[1], bool(p[4])) for p in spec["params"]]
    return _Call(spec["name"], inputs, columns, groups, params, spec["outputs"])


def _talib_run(name: str, call: _Call, vecs: list[np.ndarray], values: list[Any]) -> list[np.ndarray]:
    talib = _talib(name)
    out = getattr(talib._ta_lib, name)(*vecs, *call.typed(values))
    return [out] if isinstance(out, np.ndarray) else list(out)


def _make(kind: int, spec: dict[str, Any], abstract: bool = False):
    name: str = spec["name"]
    call = _native_call(spec)
    n_out = len(call.outputs)
    pnames = call.pnames
    defaults = [float(p[1]) for p in spec["params"]]
    index = spec["_index"]
    matypes = [i for i, p in enumerate(spec["params"]) if p[0] in spec["_matypes"]]
    ma_most = {i: spec["params"][i][3] for i in matypes}
    run = _native.ta_run
    empty = np.empty

    def general(args: tuple, kwargs: dict):
        if args and _is_dataframe(args[0]) and not type(args[0]).__module__.startswith("pandas"):
            # Another DataFrame type (polars): TA-Lib's own call reads it.
            return getattr(_talib(name).abstract, name)(*args, **kwargs)
        vecs, values, frame, index_ = call.read(args, kwargs)
        odd = [i for i in matypes if not _native_ma(ma_most[i], values[i])]
        if odd:
            what = ", ".join(f"{pnames[i]}={int(values[i])}" for i in odd)
            what = f"{name} with {what}"
            _talib(what)
            _report(what, f"{what} is not native; using TA-Lib's")
            outs = _talib_run(name, call, vecs, values)
        else:
            n = len(vecs[0])
            outs = [empty(n) for _ in range(n_out)]
            run(kind, [float(v) for v in values], vecs, outs)
        return call.wrap(outs, frame, index_, abstract)

    # The fast path reads the call in C++ (TaFastCall: NumPy arrays or pandas Series of float64,
    # numeric parameters, kernels' matypes) and says None for anything else: general() then.
    fast = _native.TaFastCall(kind, defaults, dict(index), matypes, [float(ma_most[i]) for i in matypes],
                              abstract)

    def indicator(*args: Any, **kwargs: Any):
        r = fast(args, kwargs)
        return general(args, kwargs) if r is None else r

    _describe(indicator, call, "TA-Lib semantics on the cwts kernels; see cwts_bridge.ta.")
    return indicator


def _describe(fn: Callable, call: _Call, note: str) -> None:
    params = [inspect.Parameter(i, inspect.Parameter.POSITIONAL_OR_KEYWORD) for i in call.inputs]
    params += [inspect.Parameter(p[0], inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p[1]) for p in call.params]
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    fn.__name__ = fn.__qualname__ = call.name
    fn.__doc__ = (
        f"{call.name}({', '.join(call.inputs)}{''.join(f', {p[0]}={p[1]}' for p in call.params)})"
        f" -> {', '.join(call.outputs)}\n\n{note}"
    )


def _talib_call(name: str) -> _Call:
    """A TA-Lib function's call shape, from talib.abstract's description of it."""
    talib = _talib(name)
    fn = talib.abstract.Function(name)
    n_in = 0
    columns: list[str] = []
    groups: list[tuple[str, bool, list[int]]] = []
    for kw, v in fn.input_names.items():
        names = list(v) if isinstance(v, (list, tuple)) else [v]
        groups.append((kw, isinstance(v, (list, tuple)), list(range(n_in, n_in + len(names)))))
        columns += names
        n_in += len(names)
    inputs = list(inspect.signature(getattr(talib._ta_lib, name)).parameters)[:n_in]
    params = [(k, d, isinstance(d, int)) for k, d in fn.parameters.items()]
    return _Call(name, inputs, columns, groups, params, list(fn.output_names))


def _from_talib(name: str, abstract: bool):
    """TA-Lib's ``name``: talib.abstract's own object for cwts_bridge.ta.abstract; for
    cwts_bridge.ta a function reading calls as the native ones do (Series in, Series out)."""
    talib = _talib(name)
    if abstract:
        return getattr(talib.abstract, name)
    call = _talib_call(name)
    func = getattr(talib._ta_lib, name)
    talib_abstract = talib.abstract

    def indicator(*args: Any, **kwargs: Any):
        if args and _is_dataframe(args[0]) and not type(args[0]).__module__.startswith("pandas"):
            return getattr(talib_abstract, name)(*args, **kwargs)
        vecs, values, frame, index = call.read(args, kwargs)
        out = func(*vecs, *call.typed(values))
        return call.wrap([out] if isinstance(out, np.ndarray) else list(out), frame, index, False)

    _describe(indicator, call, "TA-Lib's own function (no native kernel); see cwts_bridge.ta.")
    return indicator


def _resolve(namespace: dict[str, Any], module: str, name: str, abstract: bool):
    """Module __getattr__: TA-Lib's function for a name without a native kernel, cached."""
    if name.startswith("_") or not name.isupper():
        if abstract and not name.startswith("_"):
            try:
                import talib.abstract as talib_abstract
            except ImportError:
                talib_abstract = None
            if talib_abstract is not None and hasattr(talib_abstract, name):
                return getattr(talib_abstract, name)  # Function, ... from talib.abstract
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    talib = _talib(name)
    if name not in talib.get_functions():
        raise AttributeError(f"module {module!r} has no attribute {name!r} (nor has TA-Lib)")
    fn = _from_talib(name, abstract)
    _report(name, f"{name} is not native; using TA-Lib's")
    namespace[name] = fn
    return fn


def __getattr__(name: str):
    return _resolve(globals(), __name__, name, abstract=False)


def _out_arrays(spec, out, shape, inputs):
    """batch()'s out=: the caller's arrays, checked (a kernel writing into its own input, or two
    outputs into one array, would compute from what it has overwritten)."""
    n = len(spec["outputs"])
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    if len(outs) != n:
        raise ValueError(f"{spec['name']}: out= takes {n} array{'s' if n > 1 else ''} "
                         f"({', '.join(spec['outputs'])}), got {len(outs)}")
    for o in outs:
        if (not isinstance(o, np.ndarray) or o.dtype != np.float64 or o.shape != shape
                or not o.flags.c_contiguous or not o.flags.writeable):
            raise ValueError(f"{spec['name']}: out= arrays must be writeable C-contiguous float64 "
                             f"of shape {shape}")
    for i, o in enumerate(outs):
        if any(np.may_share_memory(o, m) for m in inputs) or any(np.may_share_memory(o, p) for p in outs[:i]):
            raise ValueError(f"{spec['name']}: out= arrays must overlap neither an input nor each other")
    return outs


def _empty_lines(shape: tuple) -> np.ndarray:
    """An uninitialised float64 array of this shape starting on a 64-byte boundary."""
    size = math.prod(shape)
    raw = np.empty(size + 8, dtype=np.float64)
    skip = (-raw.ctypes.data % 64) // 8
    return raw[skip:skip + size].reshape(shape)


def batch(name: str, *inputs: Any, out: Any = None, **params: Any):
    """One indicator over many series and many parameter sets.

    Each input is a 2-D array (series x bars), or 1-D for a single series. Each parameter is a
    scalar or a sequence; sequences (all of one length P) are zipped into P parameter sets. Returns
    an array of shape (P, series, bars) per output (a tuple for MACD, BBANDS, STOCH, STOCHF); P is
    1 when every parameter is a scalar. Series run in SIMD lanes; results equal the one-series
    functions bit for bit.

    out: the arrays to write into instead of new ones (one per output, a tuple for several), each
    writeable, C-contiguous float64 of shape (P, series, bars), overlapping neither an input nor
    each other; they are what is returned. A loop that runs the same batch on every candle reuses
    them rather than allocating its outputs each time.
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
    # A sequence gives each set its value; a scalar every set the same one (checked once, with the
    # names: a call of a few sets on 1,000 bars is short enough for this to count).
    seqs = {k: v for k, v in params.items()
            if isinstance(v, (list, tuple, np.ndarray)) or (isinstance(v, Sequence) and not isinstance(v, str))}
    lengths = {len(v) for v in seqs.values()}
    if len(lengths) > 1:
        raise ValueError("parameter sequences must have one length")
    count = lengths.pop() if lengths else 1
    base = _param_values(spec, {k: (None if k in seqs else v) for k, v in params.items()})
    columns = [(spec["_index"][k], [None if x is None else float(x) for x in v]) for k, v in seqs.items()]
    values = []
    for i in range(count):
        row = list(base)
        for at, column in columns:
            if column[i] is not None:
                row[at] = column[i]
        values.append(row)
    # One block for every output, not one array each: several large arrays freed together can take
    # the heap's top past glibc's trim threshold, so each call would give the pages back and fault
    # them in again (MACD, 16 series x 8 sets x 1,000 bars: 1.6 ms a call so, 0.23 ms in one).
    # The block starts on a cache line: with series whose length is a multiple of 8 every output
    # row does too, and lanes writing past the caches then stream whole lines (kernels_dispatch.inl).
    if out is None:
        outs = list(_empty_lines((len(spec["outputs"]), count) + shape))
    else:
        outs = _out_arrays(spec, out, (count,) + shape, mats)
    # One call: a kernel with a sweep form runs each series' sets side by side in the lanes (a
    # parameter sweep on one symbol); any other fills the lanes with series, a set at a time.
    _native.ta_run_sets(spec["kind"], values, mats, outs)
    return outs[0] if len(outs) == 1 else tuple(outs)


for _spec in _SPECS.values():
    _spec["_matypes"] = {p[0] for p in _spec["params"] if "matype" in p[0]}
    globals()[_spec["name"]] = _make(_spec["kind"], _spec)
    __all__.append(_spec["name"])
del _spec, _s, _kind
