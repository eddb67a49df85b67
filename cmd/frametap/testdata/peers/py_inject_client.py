"""A websockets client for the inject e2e test: it logs every message it
receives exactly once, and takes commands on stdin: "send TEXT" sends a
text message, "close" closes with 4000 "done" and exits.

usage: py_inject_client.py URL LOG
Prints "OPEN" once connected.
"""

import asyncio
import sys

import websockets

from common import PeerLog


async def main():
    url, log = sys.argv[1], PeerLog(sys.argv[2])
    loop = asyncio.get_running_loop()
    async with websockets.connect(url, compression="deflate", max_size=None, ping_interval=None) as ws:
        print("OPEN", flush=True)

        async def reader():
            try:
                async for msg in ws:
                    log.add("recv", "text" if isinstance(msg, str) else "binary", msg)
            except websockets.ConnectionClosed:
                pass

        r = asyncio.ensure_future(reader())
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line or line.strip() == "close":
                break
            cmd, _, arg = line.rstrip("\n").partition(" ")
            if cmd == "send":
                await ws.send(arg)
                log.add("sent", "text", arg)
        await ws.close(4000, "done")
        log.add("sent", "close", code=4000, reason="done")
        await r
    log.close()


asyncio.run(main())
