"""cwts_bridge.ta against TA-Lib (the `ta-lib` wheel): every kernel, every ISA this machine has,
on random walks, constant series, gaps, huge and tiny prices and leading NaNs; the batch form;
ISA forcing by CWTS_TA_ISA; TA-Lib's signatures and pandas behaviour; the GIL; and the engine's
indicators in shared memory against TA-Lib on the same candles."""
import inspect
import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
import talib
import talib.abstract

import cwts_bridge
import cwts_bridge.ta as cta

from conftest import Engine, wait_until

ISAS = [i for i in ("scalar", "avx2", "avx512") if cta.isa_supported(i)]
TALIB_FUNCS = [f for f in cta.get_functions() if f != "VWAP"]

# Off-default parameters per kernel (the defaults run too).
PARAMS = {
    "SMA": [{"timeperiod": 1}, {"timeperiod": 200}], "EMA": [{"timeperiod": 1}, {"timeperiod": 2}],
    "WMA": [{"timeperiod": 2}, {"timeperiod": 100}], "DEMA": [{"timeperiod": 2}], "TEMA": [{"timeperiod": 5}],
    "RSI": [{"timeperiod": 2}], "MACD": [{"fastperiod": 26, "slowperiod": 12, "signalperiod": 1},
                                         {"fastperiod": 5, "slowperiod": 35, "signalperiod": 5}],
    "BBANDS": [{"timeperiod": 5, "nbdevup": 1.0, "nbdevdn": 3.0}], "STDDEV": [{"timeperiod": 30, "nbdev": 2.0}],
    "ATR": [{"timeperiod": 1}], "NATR": [{"timeperiod": 1}, {"timeperiod": 3}], "ADX": [{"timeperiod": 2}],
    "STOCH": [{"fastk_period": 14, "slowk_period": 1, "slowd_period": 5}],
    "STOCHF": [{"fastk_period": 1, "fastd_period": 1}], "MFI": [{"timeperiod": 2}], "OBV": [],
    "CCI": [{"timeperiod": 2}], "ROC": [{"timeperiod": 1}], "MOM": [{"timeperiod": 1}],
    "WILLR": [{"timeperiod": 2}], "SAR": [{"acceleration": 0.05, "maximum": 0.02}],
    "TRANGE": [], "MIN": [{"timeperiod": 2}, {"timeperiod": 7}], "MAX": [{"timeperiod": 2}, {"timeperiod": 200}],
    "ROCR": [{"timeperiod": 1}, {"timeperiod": 25}], "CMO": [{"timeperiod": 2}, {"timeperiod": 30}],
    "MINUS_DI": [{"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 30}],
    "PLUS_DI": [{"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 30}],
    "TRIMA": [{"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 3}, {"timeperiod": 4}, {"timeperiod": 101}],
    "LINEARREG": [{"timeperiod": 2}, {"timeperiod": 100}], "LINEARREG_SLOPE": [{"timeperiod": 2}, {"timeperiod": 45}],
    "LINEARREG_INTERCEPT": [{"timeperiod": 3}], "LINEARREG_ANGLE": [{"timeperiod": 2}, {"timeperiod": 30}],
    "TSF": [{"timeperiod": 2}, {"timeperiod": 60}],
    "KAMA": [{"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 10}],
    "T3": [{"timeperiod": 1}, {"timeperiod": 2}, {"timeperiod": 3, "vfactor": 0.0}, {"timeperiod": 30, "vfactor": 1.0}],
    "STOCHRSI": [{"timeperiod": 2, "fastk_period": 1, "fastd_period": 1}, {"fastd_matype": 2},
                 {"timeperiod": 7, "fastk_period": 14, "fastd_period": 4, "fastd_matype": 8}],
}
# Every MAType (MAMA, 7, included) where the function takes one.
for _ma in (1, 2, 3, 4, 5, 6, 7, 8):
    PARAMS["STOCH"].append({"slowk_matype": _ma, "slowd_matype": (_ma + 2) % 9 if _ma != 5 else 0})
    PARAMS["STOCHF"].append({"fastd_period": 4, "fastd_matype": _ma})
    PARAMS["BBANDS"].append({"timeperiod": 7, "nbdevup": 2.0, "nbdevdn": 1.5, "matype": _ma})
PARAMS["APO"] = [{"fastperiod": 2, "slowperiod": 2}] + [
    {"fastperiod": 9 if _ma % 2 else 3, "slowperiod": 3 if _ma % 2 else 30, "matype": _ma} for _ma in range(9)]
PARAMS["PPO"] = PARAMS["APO"]
PARAMS["MACDEXT"] = [
    {"fastperiod": f, "fastmatype": fm, "slowperiod": sl, "slowmatype": sm, "signalperiod": g, "signalmatype": gm}
    for f, fm, sl, sm, g, gm in [(5, 1, 13, 3, 4, 2), (20, 4, 6, 6, 1, 5), (3, 8, 9, 2, 7, 1), (8, 5, 8, 0, 3, 8),
                                 (12, 1, 26, 1, 9, 1), (4, 0, 30, 5, 9, 6),
                                 # MAMA: its warm-up (32) the longest, and starting 9 bars late
                                 (12, 7, 26, 7, 9, 7), (12, 7, 42, 0, 9, 7)]]
PARAMS["MA"] = [{"timeperiod": period, "matype": _ma} for _ma in range(9) for period in (1, 2, 9)]
PARAMS["BBANDS"].append({"timeperiod": 50, "matype": 7})  # STDDEV's warm-up (49) longer than MAMA's (32)
PARAMS["MAMA"] = [{"fastlimit": 0.3, "slowlimit": 0.1}, {"fastlimit": 0.99, "slowlimit": 0.01},
                  {"fastlimit": 0.01, "slowlimit": 0.99}]
PARAMS["HT_PHASOR"] = []
SHAPES = ["walk", "constant", "gaps", "huge", "tiny", "micro", "leading_nan"]


def dataset(shape, n=3000, seed=7):
    rng = np.random.default_rng(seed)
    if shape == "constant":
        c = np.full(n, 42.0)
        return {"real": c, "high": c.copy(), "low": c.copy(), "close": c, "volume": np.full(n, 5.0)}
    scale, level = {"huge": (1e3, 1e9), "tiny": (1e-8, 1e-6), "micro": (1e-12, 3e-10)}.get(shape, (1.0, 100.0))
    c = level + np.cumsum(rng.normal(0, scale, n))
    if shape == "gaps":
        c[n // 3:] += 40.0
        c[2 * n // 3:] -= 60.0
    c = np.abs(c - level) + level if shape in ("tiny", "micro") else c
    h = c + rng.random(n) * scale
    lo = c - rng.random(n) * scale
    v = rng.random(n) * 1000
    if shape == "leading_nan":
        c[:37] = np.nan
    if shape == "ticks":  # an exchange's price grid (0.25, exact in binary): ties everywhere
        c, h, lo, v = (np.round(a * 4.0) / 4.0 for a in (c, c + 2 * (h - c), c - 2 * (c - lo), v / 250))
    if shape == "cents":  # a grid of 0.01, as most quotes are (not exact in binary)
        c, h, lo = (np.round(a * 100.0) / 100.0 for a in (c, h, lo))
    return {"real": c, "high": h, "low": lo, "close": c, "volume": v}


def as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


# TA-Lib 0.8's linear-regression family is not its C source's direct sums (no order of those
# operations gives its bits) and is less exact than them: against the exact rational least-squares
# line its error is ~300x ours (test_linear_regression_is_the_exact_least_squares_line). These
# functions are held to 4096 ulp of the input scale against TA-Lib (x 180/pi for the angle, in
# degrees) and to a few ulp against the exact line.
# APO is a difference of two averages of input-scale values; over T3 (six chained EMAs) TA-Lib's FMA
# build rounds each average ~8 ulp of the input scale away from ours, so 64 ulp for the difference.
# MACDEXT's signal over MAMA averages that difference with a factor read from its phase: 64 ulp too.
INPUT_SCALE_ULPS = {"LINEARREG": 4096, "LINEARREG_SLOPE": 4096, "LINEARREG_INTERCEPT": 4096, "TSF": 4096,
                    "LINEARREG_ANGLE": 4096 * 180 / np.pi, "APO": 64, "MACDEXT": 64}


def assert_matches_talib(ours, theirs, label, input_scale=0.0, ulps=16):
    """1e-9 relative; where an output is a difference of input-scale values (MACD, MOM on prices
    near 1e9) and TA-Lib's own FMA build rounds differently, 16 ulp of the input scale."""
    for j, (a, b) in enumerate(zip(as_tuple(ours), as_tuple(theirs))):
        assert np.array_equal(np.isnan(a), np.isnan(b)), f"{label} output {j}: warm-up NaNs differ"
        m = ~np.isnan(b)
        if not m.any():
            continue
        diff = np.abs(a[m] - b[m])
        # 1e-9 relative, or 1e-9 of the series' scale where the value itself crosses zero.
        tol = np.maximum(1e-9 * np.maximum(np.abs(b[m]), np.max(np.abs(b[m])) * 1e-3),
                         ulps * np.finfo(float).eps * input_scale)
        bad = diff > tol
        assert not bad.any(), (f"{label} output {j}: {bad.sum()} values off, worst at "
                               f"{np.argmax(diff / np.maximum(np.abs(b[m]), 1e-300))}: "
                               f"{a[m][bad][:3]} vs {b[m][bad][:3]}")


@pytest.fixture(params=ISAS)
def isa(request):
    before = cta.isa()
    cta.set_isa(request.param)
    yield request.param
    cta.set_isa(before)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", TALIB_FUNCS)
def test_equals_talib(name, shape, isa):
    """One series (cta.NAME) and the same series in SIMD lanes (cta.batch), against TA-Lib."""
    d = dataset(shape)
    spec = cta._SPECS[name]
    args = [d[i] for i in spec["inputs"]]
    for params in [{}] + PARAMS.get(name, []):
        expected = getattr(talib, name)(*args, **params)
        single = getattr(cta, name)(*args, **params)
        scale = max(np.nanmax(np.abs(a)) for a in args)
        assert_matches_talib(single, expected, f"{name}{params} {shape}", scale, INPUT_SCALE_ULPS.get(name, 16))
        # Five series in lanes: this one and four others; each equals its one-series result.
        others = [dataset("walk", seed=s) for s in range(4)]
        mats = [np.vstack([d[i]] + [o[i] for o in others]) for i in spec["inputs"]]
        calls = cta.isa_calls()[isa]
        many = as_tuple(cta.batch(name, *mats, **params))
        assert cta.isa_calls()[isa] == calls + 1
        for out_many, out_single in zip(many, as_tuple(single)):
            assert np.array_equal(out_many[0, 0], out_single, equal_nan=True)
        for k, o in enumerate(others):
            ref = as_tuple(getattr(cta, name)(*[o[i] for i in spec["inputs"]], **params))
            for out_many, r in zip(many, ref):
                assert np.array_equal(out_many[0, k + 1], r, equal_nan=True)


# TA-Lib's wheel runs its FMA build where the CPU has FMA (GNU indirect functions): the kernels
# fuse the multiply-adds that build fuses (fmadd() in libs/ta/src), and give its exact doubles there.
CPU_HAS_FMA = " fma " in f" {open('/proc/cpuinfo').read().replace(chr(10), ' ')} "
FUSED = ["EMA", "DEMA", "TEMA", "MACD", "BBANDS", "ATR", "NATR", "KAMA", "T3"]
FMA_MATYPES = {1, 3, 4, 6, 8}  # EMA, DEMA, TEMA, KAMA, T3: fused; MAMA (7): not yet TA-Lib's bits
EXACT = ["SMA", "WMA", "RSI", "STDDEV", "ADX", "STOCH", "STOCHF", "MFI", "OBV", "CCI", "ROC", "MOM", "WILLR",
         "TRANGE", "MIN", "MAX", "ROCR", "CMO", "MINUS_DI", "PLUS_DI", "TRIMA", "STOCHRSI", "MA", "APO", "PPO",
         "MACDEXT"]  # not SAR, HT_*, MAMA: unfused here, fused in TA-Lib's build (tested to 1e-9 above)


def test_most_kernels_equal_talib_to_the_bit():
    """The outputs are TA-Lib's exact doubles: everywhere for the kernels without a multiply-add
    TA-Lib's build fuses, and where TA-Lib runs its FMA build (a CPU with FMA) for those with one
    (EMA, DEMA, TEMA, MACD, BBANDS, ATR, NATR, KAMA, T3, and every function over those MA types).
    It fails with a fused multiply-add split into a multiply and an add. Prices on a tick grid
    too: equal highs, lows and moves, where each kernel's ties must break as TA-Lib's do; and
    sums of moves that round below the move they bound (KAMA's efficiency ratio)."""
    for shape, name in [(s, n) for s in ("walk", "ticks", "cents") for n in EXACT + (FUSED if CPU_HAS_FMA else [])]:
        d = dataset(shape)
        args = [d[i] for i in cta._SPECS[name]["inputs"]]
        defaults = {p[0]: p[1] for p in cta._SPECS[name]["params"]}
        for params in [{}] + PARAMS.get(name, []):
            matypes = {v for k, v in {**defaults, **params}.items() if "matype" in k}
            if 7 in matypes or (not CPU_HAS_FMA and matypes & FMA_MATYPES):
                continue  # MAMA inside; or TA-Lib's baseline build on a CPU without FMA
            ours, theirs = getattr(cta, name)(*args, **params), getattr(talib, name)(*args, **params)
            for a, b in zip(as_tuple(ours), as_tuple(theirs)):
                assert np.array_equal(a, b, equal_nan=True), f"{name}{params} on {shape}"


def test_kama_takes_its_efficiency_ratio_as_talib_08_does():
    """TA-Lib 0.8's KAMA: the efficiency ratio is 1 where the window's summed moves are not
    positive or at most the period's move compared signed, else |move / sum| at most 1; and after
    `timeperiod` bars in a row without a move the running sum is reset to exactly zero, dropping
    the rounding it kept. A stochastic's %K on tick prices (repeated values, moves of equal size)
    reaches both; so does a short series that goes flat after two moves that do not sum exactly.
    Moves far below 1e-14 get their ratio too (TA-Lib before 0.8 took such a sum as zero)."""
    d = dataset("ticks")
    fastk = talib.STOCHF(d["high"], d["low"], d["close"], fastk_period=5, fastd_period=1)[0]
    flat_after_moves = np.array([0.04, 0.01] + [0.0] * 13 + [0.02, 0.05, 0.01])
    tiny_moves = 1e-9 + np.cumsum(np.random.default_rng(5).normal(0, 1e-16, 200))
    if not CPU_HAS_FMA:
        pytest.skip("TA-Lib runs its unfused KAMA on this CPU: not its FMA build's bits (see above)")
    for x in (fastk, flat_after_moves, tiny_moves):
        for p in (2, 3, 10):
            assert np.array_equal(cta.KAMA(x, timeperiod=p), talib.KAMA(x, timeperiod=p), equal_nan=True), p


def test_linear_regression_is_the_exact_least_squares_line():
    """LINEARREG and its family follow TA-Lib's C source (the window's sums rebuilt at every bar):
    within a few ulp of the exact rational least-squares line, where TA-Lib 0.8's own results are
    not (see INPUT_SCALE_ULPS)."""
    from fractions import Fraction
    d = dataset("walk")["real"][:400]
    eps = np.finfo(float).eps
    for p in (2, 14, 30):
        ours = {n: getattr(cta, n)(d, timeperiod=p) for n in
                ("LINEARREG", "LINEARREG_SLOPE", "LINEARREG_INTERCEPT", "TSF")}
        theirs_err = ours_err = 0.0
        theirs = talib.LINEARREG_SLOPE(d, timeperiod=p)
        for t in range(p - 1, len(d)):
            ys = [Fraction(v) for v in d[t - p + 1:t + 1]]  # oldest first; x = 0 .. p - 1 forward
            sx, sy = Fraction(p * (p - 1), 2), sum(ys)
            sxy = sum(Fraction(x) * y for x, y in enumerate(ys))
            sxx = Fraction((p - 1) * p * (2 * p - 1), 6)
            m = (p * sxy - sx * sy) / (p * sxx - sx * sx)
            b0 = (sy - m * sx) / p  # the line's value at the oldest bar
            exact = {"LINEARREG_SLOPE": m, "LINEARREG_INTERCEPT": b0, "LINEARREG": b0 + m * (p - 1),
                     "TSF": b0 + m * p}
            for n, v in exact.items():
                assert abs(float(Fraction(ours[n][t]) - v)) <= 64 * eps * max(abs(float(v)), 100.0), (n, p, t)
            ours_err += abs(float(Fraction(ours["LINEARREG_SLOPE"][t]) - m))
            theirs_err += abs(float(Fraction(theirs[t]) - m))
        assert ours_err <= theirs_err, (p, ours_err, theirs_err)


def test_vwap_against_a_plain_reference():
    d = dataset("walk", n=500)
    tp = (d["high"] + d["low"] + d["close"]) / 3.0
    for period in (0, 1, 20):
        got = cta.VWAP(d["high"], d["low"], d["close"], d["volume"], timeperiod=period)
        for t in range(500):
            if period and t + 1 < period:
                assert np.isnan(got[t])
                continue
            w = slice(0 if period == 0 else t + 1 - period, t + 1)
            ref = np.sum(tp[w] * d["volume"][w]) / np.sum(d["volume"][w])
            assert got[t] == pytest.approx(ref, rel=1e-11)
    zero = cta.VWAP(d["high"], d["low"], d["close"], np.zeros(500), timeperiod=5)
    assert np.array_equal(zero[4:], tp[4:])


def test_signatures_and_defaults_are_talibs():
    for name in TALIB_FUNCS:
        ours = inspect.signature(getattr(cta, name)).parameters
        info = talib.abstract.Function(name).info
        for pname, default in info["parameters"].items():
            assert ours[pname].default == default, f"{name}.{pname}"
        assert list(getattr(cta, name).__signature__.parameters)[:1] == (
            ["real"] if "price" in info["input_names"] else [list(ours)[0]])
        assert [o for o in cta._SPECS[name]["outputs"]] == list(info["output_names"]), name


def test_pandas_series_and_dataframes():
    d = dataset("walk", n=300)
    idx = pd.date_range("2024-01-01", periods=300, freq="1min", tz="UTC")
    close = pd.Series(d["close"], index=idx)
    ema = cta.EMA(close, timeperiod=20)
    assert isinstance(ema, pd.Series) and ema.index.equals(idx)
    assert np.array_equal(ema.to_numpy(), talib.EMA(d["close"], timeperiod=20), equal_nan=True)
    frame = pd.DataFrame({"open": d["close"], "high": d["high"], "low": d["low"], "close": d["close"],
                          "volume": d["volume"]}, index=idx)
    macd = cta.MACD(frame)
    assert list(macd.columns) == ["macd", "macdsignal", "macdhist"]
    ref = talib.abstract.MACD(frame)
    assert np.allclose(macd.to_numpy(), ref.to_numpy(), rtol=1e-9, equal_nan=True)
    assert np.array_equal(cta.RSI(frame, timeperiod=7).to_numpy(), talib.abstract.RSI(frame, timeperiod=7).to_numpy(),
                          equal_nan=True)


def test_arrays_and_series_are_read_in_cpp_and_everything_else_by_the_python_reader(monkeypatch):
    """The call shapes FreqTrade strategies use most (float64 arrays, dataframe['close'] Series,
    parameters by position or name, a kernel's matype) are read by the native fast path: with
    the Python reader broken they still give TA-Lib's values, a Series on its index, tuples for
    several outputs. A DataFrame, a conversion, an unknown keyword or a matype out of range reach it."""
    d = dataset("walk", n=400)
    idx = pd.date_range("2024-01-01", periods=400, freq="5min", tz="UTC")
    high, low, close = (pd.Series(d[k], index=idx) for k in ("high", "low", "close"))

    def broken(*_a, **_k):
        raise AssertionError("the Python reader was used")

    monkeypatch.setattr(cta._Call, "read", broken)
    ref = talib.RSI(d["close"], timeperiod=9)
    assert np.array_equal(cta.RSI(d["close"], 9), ref, equal_nan=True)
    assert np.array_equal(cta.RSI(d["close"], timeperiod=np.int64(9)), ref, equal_nan=True)
    assert np.array_equal(cta.RSI(d["close"], None), talib.RSI(d["close"]), equal_nan=True)
    rsi = cta.RSI(close, timeperiod=9.0)
    assert isinstance(rsi, pd.Series) and rsi.index.equals(idx)
    assert np.array_equal(rsi.to_numpy(), ref, equal_nan=True)
    atr = cta.ATR(high, d["low"], close, 14)  # mixed: the first Series' index
    assert isinstance(atr, pd.Series) and atr.index.equals(idx)
    assert np.allclose(atr.to_numpy(), talib.ATR(d["high"], d["low"], d["close"], 14), rtol=1e-9, equal_nan=True)
    up, mid, lo = cta.BBANDS(close, 20, 2.0, 2.0, matype=1)
    assert all(isinstance(b, pd.Series) and b.index.equals(idx) for b in (up, mid, lo))
    for ours, theirs in zip((up, mid, lo), talib.BBANDS(d["close"], 20, 2.0, 2.0, matype=1)):
        assert np.allclose(ours.to_numpy(), theirs, rtol=1e-9, equal_nan=True)
    k, dd = cta.STOCH(d["high"], d["low"], d["close"], fastk_period=5)
    assert all(type(o) is np.ndarray for o in (k, dd))
    import cwts_bridge.ta.abstract as cab
    assert type(cab.RSI(close, timeperiod=9)) is np.ndarray  # talib.abstract: arrays for a Series
    assert isinstance(cab.BBANDS(close, 20), list)
    with pytest.raises(ValueError, match="lengths are different"):
        cta.ATR(d["high"], d["low"][:10], d["close"])
    with pytest.raises(ValueError, match="timeperiod = 1 is out of range"):
        cta.RSI(close, 1)
    frame = pd.DataFrame({"high": d["high"], "low": d["low"], "close": d["close"]})
    for call in (lambda: cta.RSI(frame), lambda: cta.RSI(d["close"].astype(np.float32)),
                 lambda: cta.RSI(d["close"][::2]), lambda: cta.RSI(list(d["close"])),
                 lambda: cta.RSI(d["close"], period=3), lambda: cta.RSI(d["close"], "9"),
                 lambda: cta.RSI(d["close"], 9, timeperiod=9), lambda: cta.MA(d["close"], 30, 9),
                 lambda: cta.RSI(close.astype(np.float32))):
        with pytest.raises(AssertionError, match="Python reader"):
            call()


def test_errors_are_clear():
    x = np.arange(50, dtype=float)
    with pytest.raises(ValueError, match="RSI: timeperiod = 1 is out of range"):
        cta.RSI(x, timeperiod=1)
    # TA-Lib's range.
    with pytest.raises(ValueError, match=r"MAMA: slowlimit = 1 is out of range: a number from 0.01 to 0.99"):
        cta.batch("MAMA", x, slowlimit=1.0)
    with pytest.raises(ValueError, match=r"matype = 9 is out of range: an integer from 0 to 8"):
        cta.batch("MA", x, matype=9)
    with pytest.raises(ValueError, match="lengths are different"):
        cta.ATR(x, x[:10], x)
    # Unknown keywords are ignored, as TA-Lib ignores them (test_ta_abstract.py).
    assert np.array_equal(cta.EMA(x, period=3), talib.EMA(x), equal_nan=True)
    with pytest.raises(TypeError, match="unexpected"):
        cta.batch("EMA", x, period=3)
    with pytest.raises(ValueError, match="one-dimensional"):
        cta.EMA(np.ones((2, 3)))
    assert np.isnan(cta.SMA(np.full(10, np.nan), 3)).all()  # as TA-Lib: all-NaN in, all-NaN out
    assert np.isnan(cta.SMA(x[:3], 5)).all()
    # Integer input is converted (TA-Lib would refuse it); the values are the same.
    assert np.array_equal(cta.SMA(np.arange(50), 5), talib.SMA(x, 5), equal_nan=True)


def test_batch_symbols_by_parameter_sets():
    d = [dataset("walk", seed=s) for s in range(6)]
    close = np.vstack([x["close"] for x in d])
    out = cta.batch("EMA", close, timeperiod=[5, 20, 50])
    assert out.shape == (3, 6, 3000)
    for p, period in enumerate([5, 20, 50]):
        for s in range(6):
            assert np.allclose(out[p, s], talib.EMA(d[s]["close"], timeperiod=period), rtol=1e-12, equal_nan=True)
            assert np.array_equal(out[p, s], cta.EMA(d[s]["close"], timeperiod=period), equal_nan=True)
    upper, middle, lower = cta.batch("BBANDS", close, timeperiod=[10, 20], nbdevup=2.0, nbdevdn=[1.0, 3.0])
    assert upper.shape == (2, 6, 3000)
    assert np.allclose(lower[1, 2], talib.BBANDS(d[2]["close"], 20, 2.0, 3.0)[2], rtol=1e-9, equal_nan=True)
    # A multi-output batch's arrays share one allocation: each output is its own, disjoint part, and
    # every output of every set and series is the one-series function's, bit for bit.
    assert not any(np.shares_memory(a, b) for a, b in [(upper, middle), (middle, lower), (upper, lower)])
    for p, (period, dn) in enumerate([(10, 1.0), (20, 3.0)]):
        for s in range(6):
            one = cta.BBANDS(d[s]["close"], period, 2.0, dn)
            for got, want in zip((upper, middle, lower), one):
                assert np.array_equal(got[p, s], want, equal_nan=True)
    macd = cta.batch("MACD", close, fastperiod=[5, 8])
    for p, fast in enumerate([5, 8]):
        for got, want in zip(macd, cta.MACD(d[4]["close"], fast)):
            assert np.array_equal(got[p, 4], want, equal_nan=True)
    macd[0][...] = 0.0
    assert np.array_equal(macd[1][1, 4], cta.MACD(d[4]["close"], 8)[1], equal_nan=True)
    with pytest.raises(ValueError, match="one length"):
        cta.batch("EMA", close, timeperiod=[5, 6], matype=[0, 0, 0])


def test_a_batch_writes_into_the_arrays_it_is_given():
    """batch(out=...): the caller's arrays are filled and returned, with the values a fresh call
    gives; arrays of another shape, dtype or layout, or overlapping an input or each other, are
    refused before anything runs."""
    close = np.vstack([dataset("walk", seed=s)["close"] for s in range(4)])
    o = np.full((3, 4, 3000), 7.0)
    got = cta.batch("EMA", close, timeperiod=[5, 20, 50], out=o)
    assert got is o
    assert np.array_equal(o, cta.batch("EMA", close, timeperiod=[5, 20, 50]), equal_nan=True)
    bands = tuple(np.full((2, 4, 3000), 7.0) for _ in range(3))
    got = cta.batch("BBANDS", close, timeperiod=[10, 20], nbdevdn=[1.0, 3.0], out=bands)
    assert all(g is b for g, b in zip(got, bands))
    for g, want in zip(got, cta.batch("BBANDS", close, timeperiod=[10, 20], nbdevdn=[1.0, 3.0])):
        assert np.array_equal(g, want, equal_nan=True)
    for bad in (np.empty((3, 4, 2999)), np.empty((3, 4, 3000), dtype=np.float32),
                np.empty((3, 4, 6000))[:, :, ::2], [np.empty((3, 4, 3000))] * 2):
        with pytest.raises(ValueError, match="out="):
            cta.batch("EMA", close, timeperiod=[5, 20, 50], out=bad)
    frozen = np.empty((3, 4, 3000))
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        cta.batch("EMA", close, timeperiod=[5, 20, 50], out=frozen)
    # Into its own input: the kernel would read what it had overwritten.
    with pytest.raises(ValueError, match="overlap"):
        cta.batch("EMA", close, timeperiod=5, out=close.reshape(1, 4, 3000))
    one = np.empty((2, 4, 3000))
    with pytest.raises(ValueError, match="overlap"):
        cta.batch("BBANDS", close, timeperiod=[10, 20], out=(one, one, np.empty((2, 4, 3000))))


def test_a_batchs_outputs_start_on_cache_lines_and_past_the_caches_equal_each_series_alone(isa):
    """A batch allocates each output from a 64-byte boundary, so that with series whose length is
    a multiple of 8 every row starts on a cache line and lanes writing past the caches stream whole
    lines (AVX-512). The values are each series' own, into
    those outputs and into out= arrays one double off the lines."""
    close = np.vstack([dataset("walk", seed=s, n=9000)["close"] for s in range(16)])
    sets = {"fastperiod": [12, 5], "slowperiod": [26, 40]}
    got = cta.batch("MACD", close, **sets)
    assert all(g.ctypes.data % 64 == 0 for g in got)
    size = 2 * 16 * 9000
    raw = np.empty(3 * size + 16)
    skip = (-raw.ctypes.data % 64) // 8 + 1  # one double past a line
    off = tuple(raw[skip + k * size:skip + (k + 1) * size].reshape(2, 16, 9000) for k in range(3))
    cta.batch("MACD", close, **sets, out=off)
    for k in range(2):
        for s in range(16):
            want = cta.MACD(close[s], fastperiod=sets["fastperiod"][k], slowperiod=sets["slowperiod"][k])
            for j in range(3):
                assert np.array_equal(got[j][k, s], want[j], equal_nan=True), (k, s, j)
                assert np.array_equal(off[j][k, s], want[j], equal_nan=True), (k, s, j)


def test_a_sweep_of_periods_on_one_symbol_equals_each_period_alone():
    # One series, many periods: EMA, DEMA, TEMA, SMA, WMA, RSI, CMO, ATR and NATR run the sets side by side in the lanes (the C++
    # test counts the sets that swept); MA with a matype too, and a kernel with no sweep (TRIMA) set by set.
    one = dataset("walk", seed=3)["close"]
    periods = [2, 3, 5, 14, 30, 200, 9, 21, 50, 14, 4]
    for name in ("EMA", "DEMA", "TEMA", "SMA", "RSI", "CMO", "WMA", "TRIMA"):
        out = cta.batch(name, one, timeperiod=periods)
        assert out.shape == (len(periods), 1, len(one))
        for p, period in enumerate(periods):
            assert np.array_equal(out[p, 0], getattr(cta, name)(one, timeperiod=period), equal_nan=True), (name, period)
            assert np.allclose(out[p, 0], getattr(talib, name)(one, timeperiod=period), rtol=1e-12, equal_nan=True)
    d = dataset("walk", seed=4)
    for name in ("ATR", "NATR"):
        out = cta.batch(name, d["high"], d["low"], d["close"], timeperiod=periods)
        for p, period in enumerate(periods):
            assert np.array_equal(out[p, 0], getattr(cta, name)(d["high"], d["low"], d["close"], period), equal_nan=True)
    ma = cta.batch("MA", one, timeperiod=[1, 10, 20, 30], matype=1)
    for p, period in enumerate([1, 10, 20, 30]):
        assert np.array_equal(ma[p, 0], cta.MA(one, period, 1), equal_nan=True)


def run_python(code, env_isa):
    env = dict(os.environ)
    if env_isa is None:
        env.pop("CWTS_TA_ISA", None)
    else:
        env["CWTS_TA_ISA"] = env_isa
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


FORCED = """
import json, numpy as np, cwts_bridge.ta as ta
x = np.cumsum(np.random.default_rng(1).normal(size=(9, 1000)), axis=1) + 100
ta.batch("RSI", x, timeperiod=14)
print(json.dumps({"isa": ta.isa(), "calls": ta.isa_calls()}))
"""


@pytest.mark.parametrize("forced", ISAS)
def test_environment_forces_the_kernel_that_runs(forced):
    r = run_python(FORCED, forced)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["isa"] == forced
    assert got["calls"][forced] == 1
    assert sum(got["calls"].values()) == 1


def test_default_is_the_widest_isa_and_bad_values_fail_clearly():
    r = run_python(FORCED, None)
    assert json.loads(r.stdout)["isa"] == ISAS[-1]
    r = run_python(FORCED, "sse9")
    assert r.returncode != 0 and "CWTS_TA_ISA" in r.stderr and "sse9" in r.stderr
    missing = [i for i in ("avx2", "avx512") if i not in ISAS]
    for m in missing:
        r = run_python(FORCED, m)
        assert r.returncode != 0 and "does not support" in r.stderr


def test_gil_is_released_while_a_kernel_runs():
    x = np.cumsum(np.random.default_rng(2).normal(size=30_000_000)) + 100
    spins = 0
    done = threading.Event()

    def work():
        cta.CCI(x, x, x, timeperiod=30)
        done.set()

    t = threading.Thread(target=work)
    t.start()
    time.sleep(0.01)
    while not done.is_set():
        spins += 1
    t.join()
    assert spins > 1000, "the main thread could not run while the kernel ran"


def test_engine_publishes_indicators_equal_to_talib(synthetic_sim, tmp_path):
    """cwtsd with indicators on 1 s candles: seeded from the sim's klines, updated on every close;
    the values in shared memory equal TA-Lib run over the same closed candles."""
    indicators = [
        {"name": "ema_5", "function": "EMA", "timeframe": "1s", "params": {"timeperiod": 5}},
        {"name": "rsi", "function": "RSI", "timeframe": "1s", "params": {"timeperiod": 4}},
        {"name": "bb", "function": "BBANDS", "timeframe": "1s", "params": {"timeperiod": 4}, "symbols": ["BTCUSDT"]},
        {"name": "atr", "function": "ATR", "timeframe": "1s", "params": {"timeperiod": 3}},
        {"name": "vwap", "function": "VWAP", "timeframe": "1s", "params": {"timeperiod": 0}},
    ]
    time.sleep(3)  # some closed 1 s klines to seed from
    eng = Engine(synthetic_sim, tmp_path, overrides={
        "market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1s", "1m"]}, "indicators": indicators})
    try:
        log = eng.log_path.read_text()
        assert '"indicator_history"' in log, log[-2000:]
        with cwts_bridge.attach(eng.instance) as b:
            names = set(b.indicators("BTCUSDT"))
            assert names == {"ema_5", "rsi", "bb.upperband", "bb.middleband", "bb.lowerband", "atr", "vwap"}
            assert set(b.indicators("ETHUSDT")) == {"ema_5", "rsi", "atr", "vwap"}
            assert wait_until(lambda: len(b.candles("BTCUSDT", "1s")) >= 12, timeout=30)
            for _ in range(3):
                for sym in ("BTCUSDT", "ETHUSDT"):
                    # A consistent pair: the indicators of the last closed candle.
                    for _attempt in range(50):
                        c1 = b.candles(sym, "1s")
                        vals = b.indicators(sym)
                        c2 = b.candles(sym, "1s")
                        if len(c1) == len(c2):
                            break
                    h, l, c, v = (c1[k].to_numpy() for k in ("high", "low", "close", "volume"))
                    assert vals["ema_5"] == talib.EMA(c, 5)[-1]
                    assert vals["rsi"] == talib.RSI(c, 4)[-1]
                    assert vals["atr"] == pytest.approx(talib.ATR(h, l, c, 3)[-1], rel=1e-12)
                    assert vals["vwap"] == pytest.approx(
                        np.sum((h + l + c) / 3 * v) / np.sum(v), rel=1e-11)
                    if sym == "BTCUSDT":
                        up, mid, low = talib.BBANDS(c, 4)
                        assert vals["bb.middleband"] == mid[-1]
                        assert vals["bb.upperband"] == pytest.approx(up[-1], rel=1e-12)
                time.sleep(1.1)
    finally:
        assert eng.stop() == 0


def test_engine_rejects_bad_indicator_config(synthetic_sim, tmp_path):
    from conftest import cwtsd_binary
    bad = {
        "region": {"instance": "badind"}, "venue": {"kind": "paper", "rest_url": synthetic_sim.url,
                                                    "ws_url": synthetic_sim.ws},
        "market": {"symbols": ["BTCUSDT"], "timeframes": ["1m"]},
    }
    cases = [
        ({"name": "x", "function": "CDLHAMMER", "timeframe": "1m"}, "indicators[0].function"),
        ({"name": "x", "function": "EMA", "timeframe": "5m"}, "not one of market.timeframes"),
        ({"name": "x", "function": "EMA", "timeframe": "1m", "params": {"period": 3}}, "is not a parameter of EMA"),
        ({"name": "x", "function": "RSI", "timeframe": "1m", "params": {"timeperiod": 1}}, "out of range"),
        ({"name": "a_name_that_is_far_too_long", "function": "EMA", "timeframe": "1m"}, "24"),
    ]
    for entry, message in cases:
        cfg = tmp_path / "bad.json"
        cfg.write_text(json.dumps(dict(bad, indicators=[entry])))
        r = subprocess.run([str(cwtsd_binary()), "--check-config", "--config", str(cfg)], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 2, (entry, r.stderr)
        assert message in r.stderr, (entry, r.stderr)


def test_indicator_history_stops_at_a_429_and_the_engine_waits_it_out(synthetic_sim, tmp_path):
    """The start-up seeding (GET /api/v3/klines per symbol and timeframe) went on after a 429: at
    Binance the requests sent inside its Retry-After get the IP banned (cwts-sim: after three, a
    418). It now stops at the 429, the engine's other venue requests wait out Retry-After, and the
    indicators it did not seed warm up on live candles."""
    indicators = [{"name": "ema_5", "function": "EMA", "timeframe": "1s", "params": {"timeperiod": 5}},
                  {"name": "rsi", "function": "RSI", "timeframe": "1m", "params": {"timeperiod": 4}}]
    time.sleep(2)  # some closed 1 s klines
    synthetic_sim.fault({"http_status": 429, "retry_after_s": 2, "count": 1, "path": "/api/v3/klines"})
    eng = Engine(synthetic_sim, tmp_path, overrides={
        "market": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1s", "1m"]}, "indicators": indicators})
    try:
        asked = synthetic_sim.get("/_sim/status")["restRequests"]
        assert asked.get("/api/v3/klines") == 1, asked  # two symbols x two timeframes were due
        log = eng.log_path.read_text()
        assert '"indicator_history_stopped"' in log, log[-3000:]
        assert '"status":418' not in synthetic_sim.log_path.read_text()
        with cwts_bridge.attach(eng.instance) as b:
            assert set(b.indicators("BTCUSDT")) == {"ema_5", "rsi"}
    finally:
        assert eng.stop() == 0


@pytest.mark.parametrize("name", ["HT_SINE", "HT_TRENDLINE", "HT_DCPERIOD", "HT_DCPHASE", "HT_PHASOR", "MAMA"])
def test_hilbert_functions_after_a_nan_inside_the_series_are_talibs(name, isa):
    """A NaN inside the series makes the cycle's period NaN for good; TA-Lib's C cast of it gives
    loops of zero length (HT_TRENDLINE then decays to 0), and so do the kernels, with no undefined
    cast of a NaN."""
    x = dataset("walk", n=400)["real"].copy()
    x[200] = np.nan
    ours, theirs = as_tuple(getattr(cta, name)(x)), as_tuple(getattr(talib, name)(x))
    for a, b in zip(ours, theirs):
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        m = ~np.isnan(b)
        assert np.allclose(a[m], b[m], rtol=1e-9, atol=1e-12), name
