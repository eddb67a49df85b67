"""Loopback servers for filter/testdata/peers.jsonl (see mkcapture.sh).

A websockets server (permessage-deflate) that greets with a Socket.IO-style
event, echoes every message, answers "frag" with a message in three
fragments and closes with 1000 after "bye"; a plain HTTP/1.1 server and the
same behind TLS (self-signed certificate in CERTDIR) with a small JSON API.
It prints "PORTS ws http https" and serves until killed.

usage: servers.py CERTDIR
"""

import asyncio
import json
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import websockets


async def ws_handler(ws, path):
    await ws.send('42["chat",{"text":"welcome"}]')
    async for msg in ws:
        if msg == "frag":
            await ws.send(iter(['{"type":', '"fragmented",', '"parts":3}']))
        elif msg == "bye":
            await ws.close(1000, "bye")
            return
        else:
            await ws.send(msg)


class API(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/api/items":
            self.reply(200, {"items": [{"id": 7, "name": "lamp"}, {"id": 8, "name": "desk"}]})
        elif self.path == "/secure":
            self.reply(200, {"ok": True, "tls": True})
        else:
            self.reply(404, {"error": "not found", "path": self.path})

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        order = json.loads(self.rfile.read(n))
        self.reply(201, {"ok": True, "order": order})

    def log_message(self, *args):
        pass


def serve_http(tls_dir):
    plain = ThreadingHTTPServer(("127.0.0.1", 0), API)
    secure = ThreadingHTTPServer(("127.0.0.1", 0), API)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(f"{tls_dir}/cert.pem", f"{tls_dir}/key.pem")
    secure.socket = ctx.wrap_socket(secure.socket, server_side=True)
    for s in (plain, secure):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    return plain.server_address[1], secure.server_address[1]


async def main():
    http_port, https_port = serve_http(sys.argv[1])
    async with websockets.serve(ws_handler, "127.0.0.1", 0, compression="deflate") as srv:
        ws_port = srv.sockets[0].getsockname()[1]
        print(f"PORTS {ws_port} {http_port} {https_port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
