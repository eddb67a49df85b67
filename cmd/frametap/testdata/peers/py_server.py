"""A websockets server for the e2e suite: it pushes a few messages, then
echoes every message until the client closes, logging all of them.

usage: py_server.py LOG deflate|none
Prints "PORT n" once listening on 127.0.0.1; exits after one connection.
"""

import asyncio
import sys

import websockets

from common import PeerLog

PUSHES = [
    "push 1 from the server",
    b"\x00\x01\x02push 2\xff",
    " ".join(f"server push word{i % 37}" for i in range(4000)),
]


async def main():
    log = PeerLog(sys.argv[1])
    compression = "deflate" if sys.argv[2] == "deflate" else None
    done = asyncio.get_running_loop().create_future()

    async def handler(ws):
        try:
            for p in PUSHES:
                await ws.send(p)
                log.add("sent", "text" if isinstance(p, str) else "binary", p)
            while True:
                msg = await ws.recv()
                typ = "text" if isinstance(msg, str) else "binary"
                log.add("recv", typ, msg)
                await ws.send(msg)
                log.add("sent", typ, msg)
        except websockets.ConnectionClosed as e:
            if e.rcvd is not None:
                log.add("recv", "close", code=e.rcvd.code, reason=e.rcvd.reason)
        finally:
            if not done.done():
                done.set_result(None)

    async with websockets.serve(handler, "127.0.0.1", 0, compression=compression,
                                max_size=None, ping_interval=None) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await done
        await asyncio.sleep(0.2)  # let the close handshake finish
    log.close()


asyncio.run(main())
