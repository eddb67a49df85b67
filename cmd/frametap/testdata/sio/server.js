// A Socket.IO 4 server on loopback for decode's E2E test. It prints its
// port, then logs what it receives and sends (see common.js).
"use strict";
const http = require("http");
const { Server } = require("socket.io");
const { norm, log } = require("./common.js");

const srv = http.createServer();
// No heartbeat during the test: pings would make the trace depend on time.
const io = new Server(srv, { pingInterval: 60000, pingTimeout: 60000 });

io.engine.on("connection", (conn) => {
  log({ engine: "open", sid: conn.id, transport: conn.transport.name });
  conn.on("upgrade", (t) => log({ engine: "upgrade", sid: conn.id, transport: t.name }));
});

for (const nsp of ["/", "/admin"]) {
  io.of(nsp).on("connection", (socket) => {
    const sid = socket.conn.id;
    log({ connect: nsp, sid });
    if (nsp === "/") {
      const args = [{ sid }];
      log({ sent: "welcome", nsp, sid, args: norm(args) });
      socket.emit("welcome", ...args);
    }
    socket.onAny((event, ...args) => {
      const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
      log({ recv: event, nsp, sid, args: norm(args), ack: !!ack });
      if (event === "upload" && ack) {
        const reply = ["stored", Buffer.from([0xca, 0xfe])];
        log({ ack_sent: nsp, sid, args: norm(reply) });
        ack(...reply);
      } else if (ack) {
        const reply = ["ok:" + event, 2];
        log({ ack_sent: nsp, sid, args: norm(reply) });
        ack(...reply);
      }
      if (event === "hello" && nsp === "/") {
        const args = ["from server", { n: 3 }];
        log({ sent: "news", nsp, sid, args: norm(args) });
        socket.emit("news", ...args);
      }
      if (event === "adm") {
        const args = ["admins only"];
        log({ sent: "notice", nsp, sid, args: norm(args), ack: true });
        socket.emit("notice", ...args, (...reply) => log({ ack_recv: nsp, sid, args: norm(reply) }));
      }
    });
    socket.on("disconnect", (reason) => log({ disconnect: nsp, sid, reason }));
  });
}

srv.listen(0, "127.0.0.1", () => log({ port: srv.address().port }));
// The test ends the server by closing its standard input.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
setTimeout(() => process.exit(2), 60000).unref();
