"""The demo's comparison: FreqTrade's orders (its database) against the venue's (cwts-sim's own
records). Every FreqTrade order must be one venue order with the same amount and cost."""
import hashlib
import hmac
import json
import sqlite3
import sys
import time
import urllib.request


def venue_filled(url, key, secret, symbol):
    q = f"symbol={symbol}&timestamp={int(time.time() * 1000)}"
    sig = hmac.new(secret.encode(), q.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{url}/api/v3/allOrders?{q}&signature={sig}", headers={"X-MBX-APIKEY": key})
    orders = json.loads(urllib.request.urlopen(req, timeout=10).read())
    # The demo's other strategy only sends IOC orders under the bid (they expire): the venue's
    # filled orders are FreqTrade's.
    return [o for o in orders if float(o["executedQty"]) > 0]


def main(db, url, key, secret, symbol):
    with sqlite3.connect(db) as c:
        ft = c.execute("select ft_order_side, status, filled, cost from orders "
                       "where filled > 0 order by cast(order_id as integer)").fetchall()
        trades = c.execute("select count(*), sum(is_open = 0), sum(coalesce(fee_open_cost, 0) + "
                           "coalesce(fee_close_cost, 0)), sum(coalesce(close_profit_abs, 0)) from trades").fetchone()
    venue = venue_filled(url, key, secret, symbol)
    print(f"FreqTrade: {trades[0] or 0} trades ({trades[1] or 0} closed), {len(ft)} filled orders, "
          f"fees {trades[2] or 0:.8f} USDT, closed profit {trades[3] or 0:+.8f} USDT")
    print(f"venue (cwts-sim): {len(venue)} filled orders on {symbol}")
    same = len(ft) == len(venue) and all(
        f[0].upper() == v["side"] and abs(f[2] - float(v["executedQty"])) < 1e-9
        and abs(f[3] - float(v["cummulativeQuoteQty"])) < 1e-6 for f, v in zip(ft, venue))
    for f, v in zip(ft, venue):
        print(f"  {f[0]:<4} FreqTrade {f[2]:.8f} for {f[3]:.8f}   venue {v['executedQty']} for "
              f"{v['cummulativeQuoteQty']} ({v['status']})")
    print("FreqTrade's orders are the venue's: " + ("yes, one venue order each, same amounts" if same else "NO"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
