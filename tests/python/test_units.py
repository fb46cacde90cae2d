"""Issue 19: submit()'s amounts are converted in C++ on the common path. The conversion must equal
the Python reference (cwts_bridge._to_units, exact Decimal arithmetic on repr()) wherever the fast
path decides, and must decide the common cases (else the optimisation is not exercised)."""
import math
import random
import struct

import pytest

import cwts_bridge
from cwts_bridge import _native, _to_units

MODES = (None, "down", "nearest")


def reference(value, decimals, increment, mode):
    try:
        return _to_units("qty", value, decimals, increment, mode)
    except (ValueError, TypeError):
        return None


def check(value, decimals, increment, mode):
    fast = _native._fast_units(value, decimals, increment, mode)
    if fast is not None:
        assert fast == reference(value, decimals, increment, mode), (value, decimals, increment, mode)
    return fast


def test_random_amounts_equal_the_reference():
    rnd = random.Random(19)
    decided = 0
    n = 60000
    for i in range(n):
        decimals = rnd.randint(0, 12)
        increment = rnd.choice([0, 1, 2, 5, 10, 25, 100, 1000, 10 ** rnd.randint(0, decimals)])
        mode = MODES[i % 3]
        kind = i % 6
        if kind == 0:  # prices as strategies compute them
            value = rnd.uniform(0.00001, 100000.0) * rnd.choice([1, 0.97, 1.03])
        elif kind == 1:  # on a decimal grid
            value = round(rnd.uniform(0.0, 1000.0), rnd.randint(0, 8))
        elif kind == 2:  # exact ties at the scale: half to even
            value = (rnd.randint(1, 10 ** 6) + 0.5) / 10 ** decimals
        elif kind == 3:  # any finite double, positive or not
            value = struct.unpack("d", struct.pack("Q", rnd.getrandbits(64)))[0]
        elif kind == 4:
            value = rnd.randint(-5, 10 ** rnd.randint(1, 19))
        else:
            value = rnd.choice([0.0, -0.0, math.inf, -math.inf, math.nan, 1e-300, 1e300, 5e-324,
                                0.1, 0.3, 1e17, 9.2e18, 2 ** 63, 2 ** 63 - 1, -1, 0])
        if check(value, decimals, increment, mode) is not None:
            decided += 1
    assert decided > n // 3, f"the fast path decided only {decided} of {n}"


@pytest.mark.parametrize("value,decimals,increment,mode,units", [
    (0.001, 8, 100000, None, 100000),       # 0.001 BTC at step 0.001
    (0.1, 8, 0, None, 10000000),            # repr 0.1, not 0.1000000000000000055...
    (50123.456, 2, 1, "down", 5012345),
    (50123.455, 2, 1, "nearest", 5012346),  # repr 50123.455: a tie at the scale, to even
    (50123.465, 2, 1, "nearest", 5012346),
    (0.0015, 3, 1, "nearest", 2),
    (0.0025, 3, 1, "nearest", 2),
    (12.5, 0, 5, "nearest", 10),            # 12 on the grid of 5: 2.4 -> 2 -> 10
    (17.5, 0, 5, "nearest", 20),            # 18 -> 3.6 -> 4
    (1e-05, 8, 0, None, 1000),
    (7, 8, 100000, None, 700000000),
])
def test_known_amounts(value, decimals, increment, mode, units):
    assert _native._fast_units(value, decimals, increment, mode) == units
    assert reference(value, decimals, increment, mode) == units


@pytest.mark.parametrize("value,mode", [(0.0011, None), (0.0, "down"), (-1.0, "down"), (math.nan, "down"),
                                        (1e-9, "down"), (True, "down"), ("1", "down"), (2 ** 70, "down")])
def test_everything_else_is_left_to_the_reference(value, mode):
    # Off the grid without rounding, not positive, not finite, rounds to zero, not a float or an
    # int, too large: the reference raises its documented error.
    assert _native._fast_units(value, 8, 100000, mode) is None


def test_the_reference_errors_are_what_submit_raises(engine):
    # Through the real submit: the fast path declines, the checks raise the same messages as before.
    with cwts_bridge.attach(engine.instance, slot=-1, name="units") as b:
        q = b.quote("BTCUSDT")
        with pytest.raises(ValueError, match="is not a multiple of the symbol's increment"):
            b.submit("BTCUSDT", "buy", 0.123456789, price=q.bid)
        with pytest.raises(ValueError, match="qty must be positive, not -1.0"):
            b.submit("BTCUSDT", "buy", -1.0, price=q.bid, round="down")
        with pytest.raises(TypeError, match="qty must be a number, not str"):
            b.submit("BTCUSDT", "buy", "1", price=q.bid, round="down")
        with pytest.raises(ValueError, match="side must be 'buy' or 'sell', not 'hold'"):
            b.submit("BTCUSDT", "hold", 0.001, price=q.bid, round="down")
        with pytest.raises(ValueError, match="a market order takes no price"):
            b.submit("BTCUSDT", "buy", 0.001, price=q.bid, type="market")
        with pytest.raises(cwts_bridge.UnknownSymbol):
            b.submit("NOPEUSDT", "buy", 0.001, price=q.bid, round="down")
        # The fast path's signal is the checked path's: the same order, the same report.
        fast = b.submit("BTCUSDT", "buy", 0.001, price=q.bid * 0.5, round="down")
        from decimal import Decimal
        slow = b.submit("BTCUSDT", "buy", Decimal("0.001"), price=Decimal(repr(q.bid * 0.5)), round="down")
        assert slow == fast + 1
        rf, rs = b.wait_report(fast, 5), b.wait_report(slow, 5)
        assert (rf.kind, rf.reason) == (rs.kind, rs.reason) == ("REJECTED", "PRICE_BAND")


def test_an_unknown_rounding_mode_is_refused():
    """round='up' was taken as a truncation without the increment: an amount off the symbol's grid
    went to the engine, which refused the order (found when a test passed round='up')."""
    with pytest.raises(ValueError, match="round must be None, 'down' or 'nearest', not 'up'"):
        _to_units("price", 101.237, 2, 5, "up")
