'use strict';
// The HTTP/2 server of the browser e2e test (Node's built-in http2 over
// TLS, h2 only, advertising SETTINGS_ENABLE_CONNECT_PROTOCOL): it serves
// page.html, /api/N ("answer N"), and a WebSocket at /ws over an extended
// CONNECT stream (RFC 8441) that pushes "welcome", echoes text as
// "echo:...", answers binary with its bytes reversed and "bye soon", and
// echoes the close. It declines permessage-deflate. What the page posts to
// /results is printed as one line "RESULTS {...}".
//
// usage: node page_server.js KEY CERT
// Prints "PORT n" once listening on 127.0.0.1.

const fs = require('fs');
const path = require('path');
const http2 = require('http2');
const ws = require('./wsframe');

const [keyPath, certPath] = process.argv.slice(2);
const page = fs.readFileSync(path.join(__dirname, 'page.html'));
const server = http2.createSecureServer({
  key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath),
  settings: { enableConnectProtocol: true },
});

server.on('stream', (stream, headers) => {
  const method = headers[':method'];
  const p = headers[':path'];
  if (method === 'CONNECT' && headers[':protocol'] === 'websocket' && p === '/ws') {
    stream.respond({ ':status': 200 });
    stream.write(ws.frame(ws.OP.text, 'welcome'));
    const reader = new ws.Reader((type, data) => {
      switch (type) {
        case 'text':
          stream.write(ws.frame(ws.OP.text, Buffer.concat([Buffer.from('echo:'), data])));
          return;
        case 'binary':
          stream.write(ws.frame(ws.OP.binary, Buffer.from(data).reverse()));
          stream.write(ws.frame(ws.OP.text, 'bye soon'));
          return;
        case 'ping':
          stream.write(ws.frame(ws.OP.pong, data));
          return;
        case 'close':
          stream.end(ws.closeFrame(data.code, data.reason, false));
      }
    });
    stream.on('data', (chunk) => reader.push(chunk));
    stream.on('error', () => {});
    return;
  }
  if (method === 'GET' && p === '/') {
    stream.respond({ ':status': 200, 'content-type': 'text/html; charset=utf-8' });
    stream.end(page);
    return;
  }
  const m = /^\/api\/(\d+)$/.exec(p);
  if (method === 'GET' && m) {
    stream.respond({ ':status': 200, 'content-type': 'text/plain' });
    stream.end('answer ' + m[1]);
    return;
  }
  if (method === 'POST' && p === '/results') {
    let body = '';
    stream.setEncoding('utf8');
    stream.on('data', (d) => { body += d; });
    stream.on('end', () => {
      console.log('RESULTS ' + body.replace(/\n/g, ' '));
      stream.respond({ ':status': 204 });
      stream.end();
    });
    return;
  }
  stream.respond({ ':status': 404 });
  stream.end();
});
server.listen(0, '127.0.0.1', () => console.log(`PORT ${server.address().port}`));
