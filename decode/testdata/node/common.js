// What both peers log: one JSON object a line on stdout, binary values
// written as {"$bin": base64} so that the Go test can compare them with the
// attachments it decoded.
"use strict";
const http = require("http");
const net = require("net");

function norm(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = norm(v[k]);
    return o;
  }
  return v;
}

function log(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

// TunnelAgent is an http.Agent whose every connection is a CONNECT tunnel
// through proxy (host:port) to the request's host.
class TunnelAgent extends http.Agent {
  constructor(proxy) {
    super({ keepAlive: true });
    this.proxy = proxy;
  }

  createConnection(opts, cb) {
    const i = this.proxy.lastIndexOf(":");
    const sock = net.connect(Number(this.proxy.slice(i + 1)), this.proxy.slice(0, i));
    const target = opts.host + ":" + opts.port;
    sock.once("error", cb);
    sock.write("CONNECT " + target + " HTTP/1.1\r\nHost: " + target + "\r\n\r\n");
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      sock.removeListener("data", onData);
      if (!/^HTTP\/1\.[01] 200/.test(head.toString("latin1"))) {
        cb(new Error("CONNECT refused: " + head.toString("latin1", 0, end)));
        return;
      }
      if (end + 4 < head.length) sock.unshift(head.subarray(end + 4));
      sock.removeListener("error", cb);
      cb(null, sock);
    };
    sock.on("data", onData);
  }
}

module.exports = { norm, log, TunnelAgent };
