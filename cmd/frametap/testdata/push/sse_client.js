// An EventSource client (npm eventsource, a WHATWG implementation) for
// the push E2E test: it opens URL, over HTTP/1.1 (Node's fetch) or, with
// "h2c", over HTTP/2 with prior knowledge (node:http2 behind the fetch
// the library takes), logs every event it dispatches as one JSON line,
// and exits when the server ends the stream.
"use strict";
const http2 = require("node:http2");
const { Readable } = require("node:stream");
const { EventSource } = require("eventsource");

const [url, mode] = [process.argv[2], process.argv[3] || "h1"];
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { log({ fail: "timeout" }); process.exit(1); }, 30000).unref();

// h2cFetch is the part of fetch EventSource uses, over one h2c session.
function h2cFetch(u, init) {
  return new Promise((resolve, reject) => {
    const target = new URL(u);
    const session = http2.connect(target.origin);
    session.on("error", reject);
    const req = session.request({ ":method": "GET", ":path": target.pathname + target.search, ...init.headers });
    req.on("error", reject);
    req.on("response", (h) => {
      const headers = new Headers();
      for (const [k, v] of Object.entries(h)) {
        if (!k.startsWith(":")) headers.set(k, String(v));
      }
      req.on("end", () => session.close());
      resolve(new Response(Readable.toWeb(req), { status: h[":status"], headers }));
    });
    if (init.signal) init.signal.addEventListener("abort", () => { req.close(); session.close(); });
    req.end();
  });
}

const es = new EventSource(url, mode === "h2c" ? { fetch: h2cFetch } : {});
// Every event, whatever its type: the library dispatches through this.
es.dispatchEvent = (ev) => {
  if (ev instanceof MessageEvent) log({ type: ev.type, data: ev.data, id: ev.lastEventId });
  return EventTarget.prototype.dispatchEvent.call(es, ev);
};
es.onerror = () => {
  // The stream ended: do not reconnect.
  es.close();
  log({ end: true });
  process.exit(0);
};
