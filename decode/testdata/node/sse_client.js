// An EventSource client (npm eventsource, a WHATWG implementation) for
// decode's E2E test: it opens BASE0, BASE1, ... BASE(N-1) one after the
// other and logs every event each dispatches, until the server ends the
// stream.
"use strict";
const { EventSource } = require("eventsource");

const [base, n] = [process.argv[2], Number(process.argv[3])];
const log = (o) => process.stdout.write(JSON.stringify(o) + "\n");
setTimeout(() => { log({ fail: "timeout" }); process.exit(1); }, 60000).unref();

function open(i) {
  if (i === n) return;
  const es = new EventSource(base + i);
  // Every event, whatever its type: the library dispatches through this.
  es.dispatchEvent = (ev) => {
    if (ev instanceof MessageEvent) log({ fixture: i, type: ev.type, data: ev.data, id: ev.lastEventId });
    return EventTarget.prototype.dispatchEvent.call(es, ev);
  };
  es.onerror = () => {
    // The stream ended: do not reconnect.
    es.close();
    log({ fixture: i, end: true });
    open(i + 1);
  };
}
open(0);
