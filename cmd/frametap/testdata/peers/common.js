'use strict';
// Shared helpers of the Node peers: the JSON Lines log and the CONNECT tunnel.

const fs = require('fs');
const http = require('http');
const net = require('net');

// PeerLog appends one JSON line per message sent or received, in order.
class PeerLog {
  constructor(path) {
    this.fd = fs.openSync(path, 'w');
  }

  add(dir, type, data = Buffer.alloc(0), extra = {}) {
    const b64 = Buffer.from(data).toString('base64');
    fs.writeSync(this.fd, JSON.stringify({ dir, type, b64, ...extra }) + '\n');
  }
}

// connectTunnel opens a CONNECT tunnel to target through proxy (host:port)
// and resolves to the socket once the proxy answered 200.
function connectTunnel(proxy, target) {
  const i = proxy.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(proxy.slice(i + 1)), proxy.slice(0, i));
    let head = Buffer.alloc(0);
    const onData = (chunk) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.removeListener('data', onData);
      if (end + 4 !== head.length) return reject(new Error('bytes after the CONNECT answer'));
      const status = head.slice(0, head.indexOf('\r\n')).toString();
      if (!/ 200 /.test(status + ' ')) return reject(new Error('CONNECT answered ' + status));
      resolve(sock);
    };
    sock.on('data', onData);
    sock.on('error', reject);
    sock.on('connect', () => sock.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
  });
}

// tunnelAgent is an http.Agent that hands out one already-open socket.
function tunnelAgent(sock) {
  const agent = new http.Agent();
  agent.createConnection = () => sock;
  return agent;
}

module.exports = { PeerLog, connectTunnel, tunnelAgent };
