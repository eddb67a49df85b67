"""Shared helpers of the Python peers: the JSON Lines log and the CONNECT tunnel."""

import base64
import json
import socket


class PeerLog:
    """Appends one JSON line per message sent or received, in order."""

    def __init__(self, path):
        self.f = open(path, "w", encoding="utf-8")

    def add(self, direction, typ, data=b"", code=None, reason=None, frames=1):
        if isinstance(data, str):
            data = data.encode("utf-8")
        rec = {"dir": direction, "type": typ, "b64": base64.b64encode(data).decode("ascii")}
        if code is not None:
            rec["code"] = code
            rec["reason"] = reason or ""
        if frames != 1:
            rec["frames"] = frames
        self.f.write(json.dumps(rec) + "\n")
        self.f.flush()

    def close(self):
        self.f.close()


def connect_tunnel(proxy, target):
    """Opens a TCP connection to proxy (host:port) and a CONNECT tunnel to target."""
    host, port = proxy.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=10)
    sock.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode("ascii"))
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        b = sock.recv(1)  # one byte at a time: nothing after the head is ours
        if not b:
            raise SystemExit(f"CONNECT: proxy closed after {head!r}")
        head += b
    status = head.split(b"\r\n", 1)[0]
    if b" 200" not in status:
        raise SystemExit(f"CONNECT answered {status!r}")
    sock.settimeout(None)
    return sock
