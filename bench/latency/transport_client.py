#!/usr/bin/env python3
"""The strategy side of the transport comparison: receives each 120-byte event and answers with a
56-byte signal, over a Unix domain socket (--uds PATH) or a WebSocket (--ws URL), until the
engine side (cwts-latency-transport) closes."""
import argparse
import socket

SIGNAL = bytes(56)


def uds(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    while True:
        need, got = 120, b""
        while len(got) < need:
            chunk = s.recv(need - len(got))
            if not chunk:
                return
            got += chunk
        s.sendall(SIGNAL)


def ws(url):
    from websockets.sync.client import connect
    from websockets.exceptions import ConnectionClosed

    with connect(url, compression=None) as c:
        try:
            while True:
                c.recv()
                c.send(SIGNAL)
        except ConnectionClosed:
            return


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--uds")
    g.add_argument("--ws")
    a = ap.parse_args()
    uds(a.uds) if a.uds else ws(a.ws)
