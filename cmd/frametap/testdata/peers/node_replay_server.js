'use strict';
// A ws server for the replay e2e test: for each connection it pushes the
// messages node_server.js pushes (node_client.js reads them first), echoes
// every message, and logs what each client sent, tagged with the
// connection's number. It serves two connections: the original and the
// replay.
//
// usage: node node_replay_server.js LOG
// Prints "PORT n" once listening on 127.0.0.1.

const { WebSocketServer } = require('ws');
const { PeerLog } = require('./common');

const log = new PeerLog(process.argv[2]);
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: { threshold: 0 }, maxPayload: 64 << 20 });
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
let conns = 0;
wss.on('connection', (ws) => {
  const conn = ++conns;
  ws.send('push 1 from the server');
  ws.send(Buffer.from([0, 1, 2, 0xff, 0xfe]));
  const parts = ['server fragment one, ', 'server fragment two, ', 'server fragment three'];
  parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
  ws.on('message', (data, isBinary) => {
    log.add('recv', isBinary ? 'binary' : 'text', data, { conn });
    ws.send(data, { binary: isBinary });
  });
  ws.on('ping', (data) => log.add('recv', 'ping', data, { conn }));
  ws.on('close', (code, reason) => {
    log.add('recv', 'close', Buffer.alloc(0), { conn, code, reason: reason.toString() });
    if (conn === 2) {
      wss.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
});
