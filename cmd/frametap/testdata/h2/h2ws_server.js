'use strict';
// An HTTP/2 server (Node's built-in http2, h2c) that advertises
// SETTINGS_ENABLE_CONNECT_PROTOCOL and takes a WebSocket over an extended
// CONNECT stream (RFC 8441). It behaves as ../peers/node_server.js: it
// pushes a few messages (one fragmented), echoes every message and answers
// pings until the client closes, logging what it sent and received. Other
// requests get "GET /path" back.
//
// usage: node h2ws_server.js LOG
// Prints "PORT n" once listening on 127.0.0.1; exits after the WebSocket.

const http2 = require('http2');
const { PeerLog } = require('../peers/common');
const ws = require('./wsframe');

const log = new PeerLog(process.argv[2]);
const server = http2.createServer({ settings: { enableConnectProtocol: true } });

server.on('stream', (stream, headers) => {
  if (headers[':method'] !== 'CONNECT' || headers[':protocol'] !== 'websocket') {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end(`${headers[':method']} ${headers[':path']}`);
    return;
  }
  stream.respond({ ':status': 200 });
  const send = (type, parts, extra) => {
    stream.write(ws.message(type, parts, false));
    log.add('sent', type, typeof parts[0] === 'string' ? parts.join('') : Buffer.concat(parts), extra);
  };
  send('text', ['push 1 from the server']);
  send('binary', [Buffer.from([0, 1, 2, 0xff, 0xfe])]);
  send('text', ['server fragment one, ', 'server fragment two, ', 'server fragment three'], { frames: 3 });
  const reader = new ws.Reader((type, data) => {
    switch (type) {
      case 'ping':
        log.add('recv', 'ping', data);
        stream.write(ws.frame(ws.OP.pong, data));
        return;
      case 'close':
        log.add('recv', 'close', Buffer.alloc(0), data);
        stream.end(ws.closeFrame(data.code, data.reason, false));
        return;
      default:
        log.add('recv', type, data);
        stream.write(ws.message(type, [data], false));
        log.add('sent', type, data);
    }
  });
  stream.on('data', (chunk) => reader.push(chunk));
  stream.on('close', () => {
    server.close();
    setTimeout(() => process.exit(0), 100);
  });
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
