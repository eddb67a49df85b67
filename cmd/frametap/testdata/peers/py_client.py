"""A websockets client for the e2e suite: it reads the server's pushes, then
sends each message of a fixed script and waits for its echo, pings, and
closes with 4000. Every message sent and received is logged.

usage: py_client.py URL LOG deflate|none [PROXY]
With PROXY (host:port) it opens a CONNECT tunnel first, as browsers do.
"""

import asyncio
import random
import sys
from urllib.parse import urlsplit

import websockets

from common import PeerLog, connect_tunnel

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike "
         "november oscar papa quebec romeo sierra tango uniform victor whiskey").split()


def script():
    rnd = random.Random(6455)
    yield "hello"
    yield "héllo wörld ✓ — ünïcode"
    yield bytes(range(256))
    yield ""
    words = []
    n = 0
    while n < 1 << 20:
        w = rnd.choice(WORDS)
        words.append(w)
        n += len(w) + 1
    yield " ".join(words)[: 1 << 20]  # 1 MiB of compressible text
    yield rnd.randbytes(1 << 20)  # 1 MiB that does not compress
    for i in range(200):
        yield f"small {i} {rnd.choice(WORDS)}" if i % 2 == 0 else f"bin {i}".encode()


async def main():
    url, logpath, comp = sys.argv[1], sys.argv[2], sys.argv[3]
    proxy = sys.argv[4] if len(sys.argv) > 4 else None
    log = PeerLog(logpath)
    sock = connect_tunnel(proxy, urlsplit(url).netloc) if proxy else None
    async with websockets.connect(url, sock=sock, compression="deflate" if comp == "deflate" else None,
                                  max_size=None, ping_interval=None, open_timeout=10) as ws:
        for _ in range(3):
            msg = await ws.recv()
            log.add("recv", "text" if isinstance(msg, str) else "binary", msg)
        for m in script():
            typ = "text" if isinstance(m, str) else "binary"
            await ws.send(m)
            log.add("sent", typ, m)
            echo = await ws.recv()
            log.add("recv", "text" if isinstance(echo, str) else "binary", echo)
        payload = b"ping-e2e \x00\x01"
        pong = await ws.ping(payload)
        log.add("sent", "ping", payload)
        await asyncio.wait_for(pong, 10)
        log.add("recv", "pong", payload)  # websockets matches the pong to this ping's payload
        await ws.close(4000, "e2e done")
        log.add("sent", "close", code=4000, reason="e2e done")
        log.add("recv", "close", code=ws.close_code, reason=ws.close_reason)
    log.close()


asyncio.run(main())
