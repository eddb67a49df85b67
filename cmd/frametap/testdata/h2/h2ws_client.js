'use strict';
// An HTTP/2 client (Node's built-in http2) that opens a WebSocket over an
// extended CONNECT stream (RFC 8441) and speaks the script of
// ../peers/node_client.js on it: it reads the server's three pushes, sends
// each message (some fragmented) and waits for its echo, pings, and closes
// with 4000. Beside the WebSocket it sends GET requests on the same
// connection. Every message sent and received is logged.
//
// usage: node h2ws_client.js URL LOG GETS
// URL is http://host:port/path (h2c with prior knowledge).

const http2 = require('http2');
const { PeerLog } = require('../peers/common');
const ws = require('./wsframe');

const [url, logPath, gets] = process.argv.slice(2);
const log = new PeerLog(logPath);
const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey'.split(' ');

let seed = 7692;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// script is node_client.js's, with smaller large messages: HTTP/2 flow
// control is what carries them here, not the point of the test.
function script() {
  const s = ['hello', 'héllo wörld ✓ — ünïcode', Buffer.from([...Array(256).keys()]), ''];
  const words = [];
  for (let n = 0; n < 200000;) {
    const w = WORDS[Math.floor(rand() * WORDS.length)];
    words.push(w);
    n += w.length + 1;
  }
  s.push(words.join(' ').slice(0, 200000));
  const noise = Buffer.alloc(150000);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rand() * 256);
  s.push(noise);
  s.push(['frag-a ', 'frag-b ', 'frag-c']);
  s.push([Buffer.from('bin-frag-1|'), Buffer.from('bin-frag-2|'), Buffer.from('bin-frag-3')]);
  s.push(['big fragment '.repeat(5000), 'and its tail']);
  for (let i = 0; i < 200; i++) s.push(i % 2 === 0 ? `small ${i} ${WORDS[i % WORDS.length]}` : Buffer.from(`bin ${i}`));
  return s;
}

async function main() {
  const u = new URL(url);
  const session = http2.connect(u.origin);
  session.on('error', (err) => { console.error(err); process.exit(1); });
  await new Promise((resolve, reject) => session.once('remoteSettings', (s) => {
    if (!s.enableConnectProtocol) reject(new Error('the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL'));
    else resolve();
  }));
  // Plain requests on the same connection, at once.
  const got = [];
  const requests = [];
  for (let i = 1; i <= Number(gets); i++) {
    requests.push(new Promise((resolve, reject) => {
      const r = session.request({ ':path': `/get/${i}` });
      let body = '';
      r.setEncoding('utf8');
      r.on('data', (d) => { body += d; });
      r.on('end', () => { got.push(body); resolve(); });
      r.on('error', reject);
    }));
  }
  const stream = session.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'http', ':path': u.pathname, ':authority': u.host,
    'sec-websocket-version': '13',
  }, { endStream: false });
  const inbox = [];
  let waiter = null;
  const next = () => new Promise((resolve) => {
    if (inbox.length) resolve(inbox.shift());
    else waiter = resolve;
  });
  const reader = new ws.Reader((type, data) => {
    const m = { type, data };
    if (waiter) { const w = waiter; waiter = null; w(m); } else inbox.push(m);
  });
  stream.on('data', (chunk) => reader.push(chunk));
  stream.on('error', (err) => { console.error(err); process.exit(1); });
  const status = await new Promise((resolve) => stream.on('response', (h) => resolve(h[':status'])));
  if (status !== 200) throw new Error(`extended CONNECT answered ${status}`);

  const recv = async () => {
    const m = await next();
    if (m.type === 'close') log.add('recv', 'close', Buffer.alloc(0), m.data);
    else log.add('recv', m.type, m.data);
  };
  for (let i = 0; i < 3; i++) await recv();
  for (const m of script()) {
    const parts = Array.isArray(m) ? m : [m];
    const type = typeof parts[0] === 'string' ? 'text' : 'binary';
    stream.write(ws.message(type, parts, true));
    const joined = type === 'text' ? parts.join('') : Buffer.concat(parts);
    log.add('sent', type, joined, parts.length > 1 ? { frames: parts.length } : {});
    await recv();
  }
  const payload = Buffer.from('ping-e2e \x00\x01');
  stream.write(ws.frame(ws.OP.ping, payload, { mask: true }));
  log.add('sent', 'ping', payload);
  await recv();
  stream.write(ws.closeFrame(4000, 'e2e done', true));
  log.add('sent', 'close', Buffer.alloc(0), { code: 4000, reason: 'e2e done' });
  await recv();
  stream.end();
  await Promise.all(requests);
  for (let i = 1; i <= Number(gets); i++) {
    if (!got.includes(`GET /get/${i}`)) throw new Error(`GET /get/${i}: got ${JSON.stringify(got)}`);
  }
  await new Promise((resolve) => stream.on('close', resolve));
  session.close();
  finished = true;
}

let finished = false;
process.on('beforeExit', () => {
  if (!finished) {
    console.error('h2ws_client: stalled before closing');
    process.exit(1);
  }
});

main().catch((err) => { console.error(err); process.exit(1); });
