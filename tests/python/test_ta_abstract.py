"""cwts_bridge.ta as a drop-in for `talib.abstract` (how FreqTrade strategies call TA-Lib).

(a) real-world call shapes from FreqTrade strategies give TA-Lib's values, return types, column
    names and index: `cwts_bridge.ta.abstract` returns exactly what `talib.abstract` returns for
    every input kind; `cwts_bridge.ta` returns the same except that a pandas Series input gives a
    Series on its index (as `import talib` does) rather than a bare array;
(b) functions without a native kernel fall through to TA-Lib's, logged once per name;
(c) every MA type (0..8) works wherever TA-Lib takes a matype.
"""
import logging
import sys

import numpy as np
import pandas as pd
import pytest
import talib
import talib.abstract

import cwts_bridge.ta as cta

try:
    import cwts_bridge.ta.abstract as cabs
except ImportError:  # before the abstract module existed: the tests on it fail, the rest run
    cabs = None

N = 400


def frame(index="range", leading_nan=0, seed=11):
    rng = np.random.default_rng(seed)
    c = 100 + np.cumsum(rng.normal(0, 1, N))
    o = c + rng.normal(0, 0.3, N)
    h = np.maximum(c, o) + rng.random(N)
    lo = np.minimum(c, o) - rng.random(N)
    v = rng.random(N) * 1000
    if leading_nan:
        for a in (o, h, lo, c, v):
            a[:leading_nan] = np.nan
    idx = pd.RangeIndex(N) if index == "range" else pd.date_range("2024-01-01", periods=N, freq="5min", tz="UTC")
    return pd.DataFrame({"date": idx, "open": o, "high": h, "low": lo, "close": c, "volume": v}, index=idx)


DF = frame()
DF_TIME = frame("time", leading_nan=7, seed=3)

# Call shapes as they appear in FreqTrade strategies (`import talib.abstract as ta`).
CALLS = {
    "RSI(df)": lambda ta, df: ta.RSI(df),
    "RSI(df, timeperiod=14)": lambda ta, df: ta.RSI(df, timeperiod=14),
    "RSI(df, 14)": lambda ta, df: ta.RSI(df, 14),
    "RSI(df, timeperiod=14, foo=1)": lambda ta, df: ta.RSI(df, timeperiod=14, foo=1),
    "RSI(df, 14, extra positional)": lambda ta, df: ta.RSI(df, 14, 99, "x"),
    "RSI(df, price=open, unknown)": lambda ta, df: ta.RSI(df, timeperiod=7, price="open", unknown=3),
    "RSI(close series, 14)": lambda ta, df: ta.RSI(df["close"], 14),
    "RSI(ndarray, 14)": lambda ta, df: ta.RSI(df["close"].to_numpy(), 14),
    "EMA(df, timeperiod=9)": lambda ta, df: ta.EMA(df, timeperiod=9),
    "EMA(close series, 9)": lambda ta, df: ta.EMA(df["close"], 9),
    "EMA(close series, timeperiod=50)": lambda ta, df: ta.EMA(df["close"], timeperiod=50),
    "EMA(df, price=high)": lambda ta, df: ta.EMA(df, price="high", timeperiod=5),
    "SMA(df, timeperiod=20, price=open)": lambda ta, df: ta.SMA(df, timeperiod=20, price="open"),
    "SMA(dict, 5)": lambda ta, df: ta.SMA({"close": df["close"].to_numpy()}, 5),
    "WMA(ndarray, 10)": lambda ta, df: ta.WMA(df["close"].to_numpy(), 10),
    "DEMA(df, 30)": lambda ta, df: ta.DEMA(df, 30),
    "TEMA(df, timeperiod=9)": lambda ta, df: ta.TEMA(df, timeperiod=9),
    "MACD(df)": lambda ta, df: ta.MACD(df),
    "MACD(df, fast/slow/signal kw)": lambda ta, df: ta.MACD(df, fastperiod=12, slowperiod=26, signalperiod=9),
    "MACD(df, 5, 35, 5)": lambda ta, df: ta.MACD(df, 5, 35, 5),
    "MACD(close series) unpacked": lambda ta, df: ta.MACD(df["close"]),
    "MACD(ndarray, fastperiod=8)": lambda ta, df: ta.MACD(df["close"].to_numpy(), fastperiod=8),
    "BBANDS(df, 20, 2.0, 2.0 kw)": lambda ta, df: ta.BBANDS(df, timeperiod=20, nbdevup=2.0, nbdevdn=2.0),
    "BBANDS(df, matype=0)": lambda ta, df: ta.BBANDS(df, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=0),
    "BBANDS(typical series, 20, 2.0, 2.0)": lambda ta, df: ta.BBANDS((df["high"] + df["low"] + df["close"]) / 3,
                                                                     20, 2.0, 2.0),
    "STOCH(df)": lambda ta, df: ta.STOCH(df),
    "STOCH(df, all kw)": lambda ta, df: ta.STOCH(df, fastk_period=14, slowk_period=3, slowk_matype=0,
                                                 slowd_period=3, slowd_matype=0),
    "STOCHF(df, kw)": lambda ta, df: ta.STOCHF(df, fastk_period=5, fastd_period=3, fastd_matype=0),
    "ADX(df)": lambda ta, df: ta.ADX(df),
    "ADX(df, timeperiod=14)": lambda ta, df: ta.ADX(df, timeperiod=14),
    "ATR(df, timeperiod=14)": lambda ta, df: ta.ATR(df, timeperiod=14),
    "ATR(high, low, close series, 14)": lambda ta, df: ta.ATR(df["high"], df["low"], df["close"], 14),
    "ATR(df, prices=[high, low, open])": lambda ta, df: ta.ATR(df, timeperiod=14, prices=["high", "low", "open"]),
    "NATR(ndarrays, timeperiod=14)": lambda ta, df: ta.NATR(df["high"].to_numpy(), df["low"].to_numpy(),
                                                            df["close"].to_numpy(), timeperiod=14),
    "MFI(df)": lambda ta, df: ta.MFI(df),
    "MFI(df, timeperiod=14, none kw)": lambda ta, df: ta.MFI(df, timeperiod=14, something=None),
    "CCI(df, timeperiod=20)": lambda ta, df: ta.CCI(df, timeperiod=20),
    "WILLR(df, 14)": lambda ta, df: ta.WILLR(df, 14),
    "SAR(df)": lambda ta, df: ta.SAR(df),
    "SAR(df, 0.02, 0.2)": lambda ta, df: ta.SAR(df, 0.02, 0.2),
    "OBV(df)": lambda ta, df: ta.OBV(df),
    "OBV(close, volume series)": lambda ta, df: ta.OBV(df["close"], df["volume"]),
    "MOM(df, timeperiod=10)": lambda ta, df: ta.MOM(df, timeperiod=10),
    "ROC(df, 10)": lambda ta, df: ta.ROC(df, 10),
    "STDDEV(df, 5, 1.0)": lambda ta, df: ta.STDDEV(df, timeperiod=5, nbdev=1.0),
}


def series_input(call) -> pd.Index | None:
    """The index of the first Series input when the call passes Series (not a DataFrame)."""
    return call.index if isinstance(call, pd.Series) else None


def assert_same(ours, theirs, label):
    assert type(ours) is type(theirs), f"{label}: {type(ours).__name__} vs TA-Lib's {type(theirs).__name__}"
    if isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs), label
        for j, (a, b) in enumerate(zip(ours, theirs)):
            assert_same(a, b, f"{label}[{j}]")
        return
    if isinstance(theirs, pd.DataFrame):
        assert list(ours.columns) == list(theirs.columns), label
        assert ours.index.equals(theirs.index), label
        assert list(ours.dtypes) == list(theirs.dtypes), label
    if isinstance(theirs, pd.Series):
        assert ours.index.equals(theirs.index), label
        assert ours.name == theirs.name, label
        assert ours.dtype == theirs.dtype, label
    a, b = np.asarray(ours, dtype=float), np.asarray(theirs, dtype=float)
    assert a.shape == b.shape, label
    assert np.array_equal(np.isnan(a), np.isnan(b)), f"{label}: NaN positions differ"
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=label)


def as_func_style(theirs, index):
    """talib.abstract's result in `import talib` style: Series inputs give Series, tuples."""
    if isinstance(theirs, list):
        return tuple(as_func_style(x, index) for x in theirs)
    if index is not None and isinstance(theirs, np.ndarray):
        return pd.Series(theirs, index=index)
    return theirs


@pytest.mark.parametrize("df", [DF, DF_TIME], ids=["range_index", "time_index_leading_nan"])
@pytest.mark.parametrize("label", list(CALLS))
def test_call_shapes_equal_talib_abstract(label, df):
    theirs = CALLS[label](talib.abstract, df)
    # cwts_bridge.ta: the same, except that Series inputs come back as Series on their index.
    seen = {}

    class Spy:
        def __getattr__(self, name):
            fn = getattr(cta, name)

            def call(*args, **kwargs):
                seen["index"] = next((a.index for a in args if isinstance(a, pd.Series)), None)
                return fn(*args, **kwargs)
            return call

    ours = CALLS[label](Spy(), df)
    assert_same(ours, as_func_style(theirs, seen["index"]), f"ta {label}")
    assert cabs is not None, "no cwts_bridge.ta.abstract"
    assert_same(CALLS[label](cabs, df), theirs, f"abstract {label}")


def test_results_unpack_and_read_by_name():
    macd = cabs.MACD(DF, fastperiod=12, slowperiod=26, signalperiod=9)
    assert_same(macd["macdsignal"], talib.abstract.MACD(DF)["macdsignal"], "macdsignal")
    m, s, h = cabs.MACD(DF["close"])
    ref = talib.MACD(DF["close"].to_numpy())
    for a, b in zip((m, s, h), ref):
        assert_same(a, b, "MACD unpacked")
    upper, middle, lower = cta.BBANDS(DF["close"], timeperiod=20)
    assert isinstance(upper, pd.Series) and upper.index.equals(DF.index)
    stoch = cta.STOCH(DF)
    assert list(stoch.columns) == ["slowk", "slowd"]


def test_parameters_as_talib_reads_them():
    # None keeps the default (as TA-Lib); positional and keyword parameters mix.
    assert_same(cabs.BBANDS(DF, 20, None, 1.5), talib.abstract.BBANDS(DF, 20, None, 1.5), "BBANDS None")
    assert_same(cabs.MACD(DF, 8, signalperiod=4), talib.abstract.MACD(DF, 8, signalperiod=4), "MACD mixed")
    # Inputs by keyword, as `import talib` takes them.
    assert_same(cta.ATR(high=DF["high"].to_numpy(), low=DF["low"].to_numpy(), close=DF["close"].to_numpy()),
                talib.ATR(DF["high"].to_numpy(), DF["low"].to_numpy(), DF["close"].to_numpy()), "ATR kw inputs")


# ---- (b) fall-through to TA-Lib ----

FALLTHROUGH = ["T3", "STOCHRSI", "CDLHAMMER", "CDLENGULFING", "HT_SINE", "HT_TRENDLINE", "KAMA", "ROCR", "MINUS_DI",
               "PLUS_DI", "TRANGE", "TRIMA", "MIN", "MAX", "CMO", "LINEARREG", "MAMA", "SAREXT", "AROON", "ULTOSC"]


def pick(name):
    if name == "ta":
        return cta
    assert cabs is not None, "no cwts_bridge.ta.abstract"
    return cabs


def _forget(module, name):
    module.__dict__.pop(name, None)
    getattr(module, "_reported", set()).discard(name)


@pytest.mark.parametrize("name", FALLTHROUGH)
@pytest.mark.parametrize("module", ["ta", "abstract"])
def test_functions_without_a_kernel_fall_through_to_talib(name, module, caplog):
    module = pick(module)
    native = name in cta.native_functions()
    if not native:
        _forget(module, name)
    caplog.set_level(logging.INFO, logger="cwts_bridge.ta")
    fn = getattr(module, name)
    theirs = getattr(talib.abstract, name)(DF)
    assert_same(fn(DF), theirs, name)
    assert_same(getattr(module, name)(DF, unknown_keyword=1), theirs, name)
    series = getattr(module, name)(DF["close"]) if len(getattr(talib.abstract, name).input_names) == 1 and \
        "price" in getattr(talib.abstract, name).input_names else None
    if series is not None:
        ref = getattr(talib.abstract, name)(DF["close"])
        assert_same(series, as_func_style(ref, DF.index) if module is cta else ref, f"{name} series")
    messages = [r.getMessage() for r in caplog.records if f"{name} is not native" in r.getMessage()]
    if native:
        assert messages == []
    else:
        assert messages == [f"cwts_bridge.ta: {name} is not native; using TA-Lib's"], messages


def test_unknown_names_raise_attribute_error():
    with pytest.raises(AttributeError, match="NOT_AN_INDICATOR"):
        cta.NOT_AN_INDICATOR
    with pytest.raises(AttributeError, match="NOT_AN_INDICATOR"):
        cabs.NOT_AN_INDICATOR
    assert not hasattr(cta, "__wrapped__")


def test_without_talib_the_error_names_the_function(monkeypatch):
    for module in (cta, cabs):
        _forget(module, "CDLMORNINGSTAR")
    monkeypatch.setitem(sys.modules, "talib", None)
    monkeypatch.setitem(sys.modules, "talib.abstract", None)
    for module in (cta, cabs):
        with pytest.raises(ImportError, match="CDLMORNINGSTAR.*TA-Lib"):
            module.CDLMORNINGSTAR
    # Native functions do not need TA-Lib, nor does any of their MA types (MAMA included).
    assert isinstance(cabs.RSI(DF), pd.Series)
    assert isinstance(cabs.BBANDS(DF, matype=3), pd.DataFrame)
    assert isinstance(cabs.BBANDS(DF, matype=7), pd.DataFrame)
    assert list(cabs.MAMA(DF).columns) == ["mama", "fama"]


# ---- (c) matype ----

@pytest.mark.parametrize("matype", range(9))
@pytest.mark.parametrize("module", ["ta", "abstract"])
def test_every_matype_works(matype, module):
    module = pick(module)
    a = talib.abstract
    cases = {
        "BBANDS": (lambda t: t.BBANDS(DF, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=matype)),
        "BBANDS positional": (lambda t: t.BBANDS(DF_TIME, 10, 1.5, 2.5, matype)),
        "STOCH": (lambda t: t.STOCH(DF, fastk_period=14, slowk_period=3, slowk_matype=matype, slowd_period=3,
                                    slowd_matype=0)),
        "STOCH slowd": (lambda t: t.STOCH(DF, slowd_matype=matype)),
        "STOCHF": (lambda t: t.STOCHF(DF, fastk_period=5, fastd_period=3, fastd_matype=matype)),
        "STOCHRSI": (lambda t: t.STOCHRSI(DF, timeperiod=14, fastk_period=3, fastd_period=3, fastd_matype=matype)),
        "MA": (lambda t: t.MA(DF, timeperiod=30, matype=matype)),
        "MACDEXT": (lambda t: t.MACDEXT(DF, fastmatype=matype, slowmatype=matype, signalmatype=matype)),
        "APO": (lambda t: t.APO(DF, fastperiod=12, slowperiod=26, matype=matype)),
        "PPO": (lambda t: t.PPO(DF, matype=matype)),
    }
    for label, call in cases.items():
        assert_same(call(module), call(a), f"{label} matype={matype}")
    arr = DF["close"].to_numpy()
    ours = module.BBANDS(arr, 20, 2.0, 2.0, matype)
    theirs = a.BBANDS(arr, 20, 2.0, 2.0, matype)
    assert_same(ours, theirs if module is cabs else tuple(theirs), "BBANDS ndarray")


@pytest.mark.parametrize("call", [
    lambda t: t.STOCHRSI(DF, timeperiod=14, fastk_period=5, fastd_period=3, fastd_matype=2),
    lambda t: t.STOCH(DF, slowk_matype=1, slowd_matype=8),
    lambda t: t.STOCHF(DF["high"], DF["low"], DF["close"], 5, 3, 6),
    lambda t: t.BBANDS(DF, timeperiod=20, nbdevup=2.0, nbdevdn=2.0, matype=1),
    lambda t: t.BBANDS(DF["close"], 10, 1.5, 2.5, 8),
    lambda t: t.MA(DF, timeperiod=30, matype=6),
    lambda t: t.MA(DF["close"], 9),
    lambda t: t.APO(DF, fastperiod=12, slowperiod=26, matype=3),
    lambda t: t.PPO(DF["close"], 9, 21, 5),
    lambda t: t.MACDEXT(DF, fastmatype=1, slowmatype=3, signalmatype=8),
    lambda t: t.BBANDS(DF, matype=7),
    lambda t: t.MA(DF["close"], 30, 7),
    lambda t: t.STOCHRSI(DF, fastd_matype=7),
    lambda t: t.MACDEXT(DF, fastmatype=7, slowmatype=0, slowperiod=42, signalmatype=7),
    lambda t: t.MAMA(DF, 0.4, 0.02),
    lambda t: t.HT_PHASOR(DF),
])
def test_every_matype_runs_on_the_kernels(call, caplog):
    """STOCH, STOCHF, STOCHRSI, BBANDS, MA, APO, PPO and MACDEXT compute every MA type natively, MAMA
    included (STOCHRSI with fastd_matype=2 is common in FreqTrade strategies, BBANDS over an EMA
    too), and MAMA and HT_PHASOR are kernels: no TA-Lib fall-through, a kernel call."""
    caplog.set_level(logging.INFO, logger="cwts_bridge.ta")
    for module in (cta, cabs):
        before = sum(cta.isa_calls().values())
        call(module)
        assert sum(cta.isa_calls().values()) == before + 1
    assert not [r for r in caplog.records if "not native" in r.getMessage()]
