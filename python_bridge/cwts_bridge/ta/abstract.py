"""``talib.abstract`` on the cwts kernels: ``import cwts_bridge.ta.abstract as ta`` instead of
``import talib.abstract as ta``.

The functions are cwts_bridge.ta's and read calls the same way (a DataFrame or a dict of arrays,
Series or NumPy arrays, ``price=``/``prices=``, parameters by position or name, unknown keywords
and surplus positional arguments ignored, every matype); results come back exactly as
``talib.abstract`` gives them: a Series on the DataFrame's index or a DataFrame named by the
outputs for a DataFrame input, otherwise a NumPy array or a list of them (a Series input too).
A function without a native kernel is ``talib.abstract``'s own object, logged once.
"""
from __future__ import annotations

from . import _SPECS, _make, _reported, _resolve, get_functions, lookback, native_functions  # noqa: F401

__all__ = ["get_functions", "lookback", "native_functions"]

for _spec in _SPECS.values():
    globals()[_spec["name"]] = _make(_spec["kind"], _spec, abstract=True)
    __all__.append(_spec["name"])
del _spec


def __getattr__(name: str):
    return _resolve(globals(), __name__, name, abstract=True)
