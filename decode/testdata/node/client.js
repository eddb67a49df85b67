// A Socket.IO 4 client for the FRAMETAP_E2E=1 tests of decode and of
// cmd/frametap: usage: node client.js PORT [PROXY]. With PROXY (host:port)
// every connection of the client goes through a CONNECT tunnel opened
// there, as a browser's would.
// The first session uses the
// default transports (long-polling, then the upgrade to WebSocket): events
// with acks, a binary event, a namespace, disconnects. The second is
// polling only, so that binary attachments travel as base64. It logs what
// it receives and sends (see common.js), then exits.
"use strict";
const { io } = require("socket.io-client");
const { norm, log, TunnelAgent } = require("./common.js");

const url = "http://127.0.0.1:" + process.argv[2];
const proxy = process.argv[3];
// Engine.IO hands the agent to both transports: polling (XMLHttpRequest)
// and the WebSocket (ws).
const extra = proxy ? { agent: new TunnelAgent(proxy) } : {};
const fail = (what) => { log({ fail: what }); process.exit(1); };
setTimeout(() => fail("timeout"), 20000).unref();

const socket = io(url, { reconnection: false, ...extra });
const sid = () => socket.io.engine.id;
socket.on("connect_error", (err) => fail("connect_error " + err.message));
socket.onAny((event, ...args) => log({ recv: event, nsp: "/", sid: sid(), args: norm(args), ack: false }));

socket.once("connect", () => {
  const engine = socket.io.engine;
  log({ connected: "/", sid: sid(), transport: engine.transport.name });
  const early = ["early", 0];
  log({ sent: "early", nsp: "/", sid: sid(), args: norm(early.slice(1)), ack: false });
  socket.emit(...early);
  const afterUpgrade = () => {
    log({ upgraded: engine.transport.name, sid: sid() });
    const args = ["world", { n: 1 }];
    log({ sent: "hello", nsp: "/", sid: sid(), args: norm(args), ack: true });
    socket.emit("hello", ...args, (...reply) => {
      log({ ack_recv: "/", sid: sid(), args: norm(reply) });
      const bin = ["photo.png", Buffer.from([1, 2, 3, 4]), { thumb: Buffer.from([5, 6]) }];
      log({ sent: "upload", nsp: "/", sid: sid(), args: norm(bin), ack: true });
      socket.emit("upload", ...bin, (...reply) => {
        log({ ack_recv: "/", sid: sid(), args: norm(reply) });
        admin();
      });
    });
  };
  if (engine.transport.name === "websocket") afterUpgrade();
  else engine.once("upgrade", afterUpgrade);
});

function admin() {
  const adm = io(url + "/admin", { reconnection: false, ...extra });
  adm.on("notice", (...args) => {
    const ack = args.pop();
    log({ recv: "notice", nsp: "/admin", sid: sid(), args: norm(args), ack: true });
    const reply = ["thanks"];
    log({ ack_sent: "/admin", sid: sid(), args: norm(reply) });
    ack(...reply);
    // Let the ack leave before leaving the namespace.
    setTimeout(() => {
      log({ disconnect: "/admin", sid: sid() });
      adm.disconnect();
      setTimeout(() => {
        log({ disconnect: "/", sid: sid() });
        socket.disconnect();
        setTimeout(pollingOnly, 100);
      }, 100);
    }, 100);
  });
  adm.once("connect", () => {
    const args = ["status", [1, 2, 3]];
    log({ sent: "adm", nsp: "/admin", sid: sid(), args: norm(args), ack: false });
    adm.emit("adm", ...args);
  });
}

function pollingOnly() {
  const p = io(url, { reconnection: false, forceNew: true, transports: ["polling"], ...extra });
  const psid = () => p.io.engine.id;
  p.on("connect_error", (err) => fail("connect_error " + err.message));
  p.onAny((event, ...args) => log({ recv: event, nsp: "/", sid: psid(), args: norm(args), ack: false }));
  p.once("connect", () => {
    log({ connected: "/", sid: psid(), transport: p.io.engine.transport.name });
    const bin = [Buffer.from([9, 8, 7]), "over polling"];
    log({ sent: "upload", nsp: "/", sid: psid(), args: norm(bin), ack: true });
    p.emit("upload", ...bin, (...reply) => {
      log({ ack_recv: "/", sid: psid(), args: norm(reply) });
      log({ disconnect: "/", sid: psid() });
      p.disconnect();
      setTimeout(() => process.exit(0), 200);
    });
  });
}
