"""A websockets server for the inject e2e test: it echoes each message as
"echo: " + message, logs every message it receives exactly once, and takes
commands on stdin: "frag-start" sends the first fragment of a fragmented
text message, "frag-end" its last.

usage: py_inject_server.py LOG
Prints "PORT n" once listening on 127.0.0.1; exits after one connection.
"""

import asyncio
import sys

import websockets

from common import PeerLog


async def main():
    log = PeerLog(sys.argv[1])
    done = asyncio.get_running_loop().create_future()
    loop = asyncio.get_running_loop()

    async def commands(ws):
        rest = asyncio.Event()

        async def fragments():
            yield "fragment one, "
            await rest.wait()
            yield "fragment two"

        sending = None
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                return
            cmd = line.strip()
            if cmd == "frag-start":
                sending = asyncio.ensure_future(ws.send(fragments()))
            elif cmd == "frag-end":
                rest.set()
                await sending
                log.add("sent", "text", "fragment one, fragment two", frames=2)

    async def handler(ws):
        cmds = asyncio.ensure_future(commands(ws))
        try:
            while True:
                msg = await ws.recv()
                typ = "text" if isinstance(msg, str) else "binary"
                log.add("recv", typ, msg)
                if typ == "text" and msg.startswith("hello"):
                    await ws.send("echo: " + msg)
        except websockets.ConnectionClosed as e:
            if e.rcvd is not None:
                log.add("recv", "close", code=e.rcvd.code, reason=e.rcvd.reason)
        finally:
            cmds.cancel()
            if not done.done():
                done.set_result(None)

    async with websockets.serve(handler, "127.0.0.1", 0, compression="deflate",
                                max_size=None, ping_interval=None) as server:
        print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
        await done
        await asyncio.sleep(0.2)
    log.close()
    # The stdin reader thread may still block in readline: leave at once.
    sys.stdout.flush()
    import os
    os._exit(0)


asyncio.run(main())
