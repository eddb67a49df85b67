'use strict';
// A ws server for the e2e suite: it pushes a few messages (one fragmented),
// then echoes every message until the client closes, logging all of them.
//
// usage: node node_server.js LOG deflate|none
// Prints "PORT n" once listening on 127.0.0.1; exits after one connection.

const { WebSocketServer } = require('ws');
const { PeerLog } = require('./common');

const log = new PeerLog(process.argv[2]);
const deflate = process.argv[3] === 'deflate';

const wss = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: deflate ? { threshold: 0 } : false,
  maxPayload: 64 << 20,
});
wss.on('listening', () => console.log(`PORT ${wss.address().port}`));
wss.on('connection', (ws) => {
  ws.send('push 1 from the server');
  log.add('sent', 'text', 'push 1 from the server');
  const bin = Buffer.from([0, 1, 2, 0xff, 0xfe]);
  ws.send(bin);
  log.add('sent', 'binary', bin);
  const parts = ['server fragment one, ', 'server fragment two, ', 'server fragment three'];
  parts.forEach((p, i) => ws.send(p, { fin: i === parts.length - 1 }));
  log.add('sent', 'text', parts.join(''), { frames: parts.length });

  ws.on('message', (data, isBinary) => {
    const type = isBinary ? 'binary' : 'text';
    log.add('recv', type, data);
    ws.send(data, { binary: isBinary });
    log.add('sent', type, data);
  });
  ws.on('ping', (data) => log.add('recv', 'ping', data));
  ws.on('close', (code, reason) => {
    log.add('recv', 'close', Buffer.alloc(0), { code, reason: reason.toString() });
    wss.close();
    setTimeout(() => process.exit(0), 100);
  });
});
