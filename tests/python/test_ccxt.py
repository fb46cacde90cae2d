"""ccxt (an independent client) against cwts-sim through its `urls` override."""
import ccxt
import pytest

from conftest import API_KEY, API_SECRET


def client(sim):
    e = ccxt.binance({
        "apiKey": API_KEY,
        "secret": API_SECRET,
        "enableRateLimit": False,
        # Spot only: no margin/futures/currency endpoints, which cwts-sim does not serve.
        "options": {"fetchMarkets": {"types": ["spot"]}, "fetchMargins": False,
                    "fetchCurrencies": False, "defaultType": "spot"},
    })
    for k, v in list(e.urls["api"].items()):
        e.urls["api"][k] = v.replace("https://api.binance.com", sim.url)
    return e


def test_public_market_data_matches_the_venue(synthetic_sim):
    e = client(synthetic_sim)
    markets = e.load_markets()
    m = markets["BTC/USDT"]
    assert m["id"] == "BTCUSDT" and m["spot"]
    assert m["precision"]["price"] == pytest.approx(0.01)
    assert m["limits"]["amount"]["min"] == pytest.approx(0.00001)

    book = e.fetch_order_book("BTC/USDT", limit=100)
    bids, asks = book["bids"], book["asks"]
    assert bids and asks
    assert bids[0][0] < asks[0][0], "not crossed"
    assert all(bids[i][0] > bids[i + 1][0] for i in range(len(bids) - 1))
    assert all(asks[i][0] < asks[i + 1][0] for i in range(len(asks) - 1))
    raw = synthetic_sim.get("/api/v3/depth?symbol=BTCUSDT&limit=5")
    assert raw["lastUpdateId"] >= book["nonce"]

    ticker = e.fetch_ticker("BTC/USDT")
    assert ticker["bid"] < ticker["ask"]
    assert abs(ticker["bid"] - bids[0][0]) / bids[0][0] < 0.01

    ohlcv = e.fetch_ohlcv("BTC/USDT", "1m", limit=5)
    assert ohlcv, "klines"
    t, o, h, l, c, v = ohlcv[-1]
    assert l <= min(o, c) <= max(o, c) <= h and v >= 0 and t % 60000 == 0

    trades = e.fetch_trades("BTC/USDT", limit=20)
    assert trades and all(tr["price"] > 0 and tr["amount"] > 0 for tr in trades)
    assert all(trades[i]["timestamp"] <= trades[i + 1]["timestamp"] for i in range(len(trades) - 1))


def test_orders_balances_and_trades_agree(synthetic_sim):
    e = client(synthetic_sim)
    e.load_markets()
    before = e.fetch_balance()
    assert before["USDT"]["free"] == pytest.approx(100000)
    assert before["BTC"]["free"] == pytest.approx(5)

    bid = e.fetch_ticker("BTC/USDT")["bid"]
    price = float(e.price_to_precision("BTC/USDT", bid * 0.95))
    limit = e.create_order("BTC/USDT", "limit", "buy", 0.002, price)
    assert limit["status"] == "open" and limit["filled"] == 0
    fetched = e.fetch_order(limit["id"], "BTC/USDT")
    assert fetched["status"] == "open" and fetched["price"] == pytest.approx(price)
    open_orders = e.fetch_open_orders("BTC/USDT")
    assert [o["id"] for o in open_orders] == [limit["id"]]
    locked = e.fetch_balance()["USDT"]["used"]
    assert locked == pytest.approx(0.002 * price, rel=1e-9), "the resting buy locks its quote"
    cancelled = e.cancel_order(limit["id"], "BTC/USDT")
    assert cancelled["status"] == "canceled"
    assert e.fetch_open_orders("BTC/USDT") == []

    market = e.create_order("BTC/USDT", "market", "buy", 0.001)
    assert market["status"] == "closed"
    assert market["filled"] == pytest.approx(0.001)
    cost = market["cost"]
    assert cost == pytest.approx(0.001 * market["average"], rel=1e-9)
    fee = market["fee"]
    assert fee["currency"] == "BTC" and fee["cost"] > 0

    mine = e.fetch_my_trades("BTC/USDT")
    assert len(mine) >= 1
    assert sum(t["amount"] for t in mine) == pytest.approx(0.001)
    assert all(t["order"] == market["id"] for t in mine)

    after = e.fetch_balance()
    assert after["BTC"]["free"] == pytest.approx(5 + 0.001 - fee["cost"], abs=1e-12)
    assert after["USDT"]["free"] == pytest.approx(100000 - cost, rel=1e-9)
    assert after["USDT"]["used"] == pytest.approx(0)
