"""An HTTP/1.1 server for the replay e2e test: it keeps connections alive
and logs each request (the client's port, method, path, Host, body) as a
JSON line.

usage: py_http_server.py LOG
Prints "PORT n" once listening on 127.0.0.1; runs until killed.
"""

import base64
import http.server
import json
import sys

LOG = open(sys.argv[1], "w", encoding="utf-8")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        LOG.write(json.dumps({"port": self.client_address[1], "method": self.command, "path": self.path,
                              "host": self.headers.get("Host"), "b64": base64.b64encode(body).decode()}) + "\n")
        LOG.flush()
        answer = f"answer to {self.command} {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = do_PUT = do_DELETE = handle_one

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
