"""python-binance (an independent client) against cwts-sim: signed orders and auth errors."""
import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from conftest import API_KEY, API_SECRET


def client(sim, secret=API_SECRET):
    c = Client(API_KEY, secret, ping=False)
    c.API_URL = sim.url + "/api"
    return c


def test_signed_order_placed_queried_cancelled(synthetic_sim):
    c = client(synthetic_sim)
    assert abs(c.get_server_time()["serverTime"] - __import__("time").time() * 1000) < 5000
    bid = float(c.get_orderbook_ticker(symbol="BTCUSDT")["bidPrice"])
    price = f"{bid * 0.9:.2f}"
    o = c.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC",
                       quantity="0.001", price=price, newClientOrderId="pyb-1")
    assert o["status"] == "NEW" and o["clientOrderId"] == "pyb-1"
    q = c.get_order(symbol="BTCUSDT", origClientOrderId="pyb-1")
    assert q["orderId"] == o["orderId"] and q["status"] == "NEW" and q["price"].startswith(price)
    x = c.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert x["status"] == "CANCELED"
    assert c.get_order(symbol="BTCUSDT", orderId=o["orderId"])["status"] == "CANCELED"
    with pytest.raises(BinanceAPIException) as dup:
        c.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert dup.value.code == -2011


def test_bad_signature_is_1022(synthetic_sim):
    with pytest.raises(BinanceAPIException) as e:
        client(synthetic_sim, secret="not-the-secret").get_account()
    assert e.value.code == -1022
    assert e.value.status_code == 400


def test_stale_timestamp_is_1021(synthetic_sim):
    c = client(synthetic_sim)
    c.timestamp_offset = -120_000  # two minutes in the past, beyond recvWindow
    with pytest.raises(BinanceAPIException) as e:
        c.get_account()
    assert e.value.code == -1021
    c.timestamp_offset = 0
    assert any(b["asset"] == "USDT" for b in c.get_account()["balances"])
