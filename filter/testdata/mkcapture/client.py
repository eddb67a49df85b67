"""A websockets client for filter/testdata/peers.jsonl: through frametap
(a CONNECT tunnel), it reads the greeting, sends JSON, binary and
Socket.IO-style messages and waits for each echo, asks for a fragmented
message, pings, and says "bye" (the server then closes with 1000).

usage: client.py WS_PORT PROXY
"""

import asyncio
import socket
import sys

import websockets


def tunnel(proxy, target):
    host, port = proxy.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += sock.recv(1)
    assert b" 200" in head.split(b"\r\n", 1)[0], head
    sock.settimeout(None)
    return sock


async def main():
    target = f"127.0.0.1:{sys.argv[1]}"
    async with websockets.connect(f"ws://{target}/chat?room=1", sock=tunnel(sys.argv[2], target),
                                  compression="deflate", ping_interval=None) as ws:
        await ws.recv()
        for m in ['{"type":"order","id":1,"items":[{"sku":"A1","qty":2}]}',
                  '{"type":"cancel","id":1}',
                  '42["chat",{"text":"hello from python"}]',
                  '42["typing"]',
                  bytes([0, 1, 2, 0xFE, 0xFF]),
                  "plain text, no json"]:
            await ws.send(m)
            await ws.recv()
        await ws.send("frag")
        await ws.recv()
        await asyncio.wait_for(await ws.ping(b"are you there"), 10)
        await ws.send("bye")
        try:
            await ws.recv()
        except websockets.ConnectionClosedOK:
            pass


asyncio.run(main())
