'use strict';
// A ws client for the e2e suite: it reads the server's pushes, then sends
// each message of a fixed script (some fragmented) and waits for its echo,
// pings, and closes with 4000. Every message sent and received is logged.
//
// usage: node node_client.js URL LOG deflate|none [PROXY]
// With PROXY (host:port) it opens a CONNECT tunnel first, as browsers do.

const WebSocket = require('ws');
const { PeerLog, connectTunnel, tunnelAgent } = require('./common');

const [url, logPath, comp, proxy] = process.argv.slice(2);
const log = new PeerLog(logPath);
const WORDS = 'alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey'.split(' ');

// rand is a small seeded PRNG (mulberry32), so runs are repeatable.
let seed = 7692;
function rand() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// script lists what the client sends: a string is text, a Buffer binary,
// an array a fragmented message.
function script() {
  const s = ['hello', 'héllo wörld ✓ — ünïcode', Buffer.from([...Array(256).keys()]), ''];
  const words = [];
  for (let n = 0; n < 1 << 20;) {
    const w = WORDS[Math.floor(rand() * WORDS.length)];
    words.push(w);
    n += w.length + 1;
  }
  s.push(words.join(' ').slice(0, 1 << 20));
  const noise = Buffer.alloc(1 << 20);
  for (let i = 0; i < noise.length; i++) noise[i] = Math.floor(rand() * 256);
  s.push(noise);
  s.push(['frag-a ', 'frag-b ', 'frag-c']);
  s.push([Buffer.from('bin-frag-1|'), Buffer.from('bin-frag-2|'), Buffer.from('bin-frag-3')]);
  s.push(['big fragment '.repeat(5000), 'and its tail']);
  for (let i = 0; i < 200; i++) s.push(i % 2 === 0 ? `small ${i} ${WORDS[i % WORDS.length]}` : Buffer.from(`bin ${i}`));
  return s;
}

async function main() {
  const opts = { perMessageDeflate: comp === 'deflate' ? { threshold: 0 } : false, maxPayload: 64 << 20 };
  if (proxy) opts.agent = tunnelAgent(await connectTunnel(proxy, new URL(url).host));
  const ws = new WebSocket(url, opts);
  const inbox = [];
  let waiter = null;
  const next = () => new Promise((resolve) => {
    if (inbox.length) resolve(inbox.shift());
    else waiter = resolve;
  });
  const deliver = (m) => {
    if (waiter) { const w = waiter; waiter = null; w(m); } else inbox.push(m);
  };
  ws.on('message', (data, isBinary) => deliver({ type: isBinary ? 'binary' : 'text', data }));
  ws.on('pong', (data) => deliver({ type: 'pong', data }));
  ws.on('error', (err) => { console.error(err); process.exit(1); });
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve) => ws.on('open', resolve));

  const recv = async () => {
    const m = await next();
    log.add('recv', m.type, m.data);
  };
  for (let i = 0; i < 3; i++) await recv();
  for (const m of script()) {
    if (Array.isArray(m)) {
      m.forEach((p, i) => ws.send(p, { fin: i === m.length - 1 }));
      const joined = typeof m[0] === 'string' ? m.join('') : Buffer.concat(m);
      log.add('sent', typeof m[0] === 'string' ? 'text' : 'binary', joined, { frames: m.length });
    } else {
      ws.send(m);
      log.add('sent', typeof m === 'string' ? 'text' : 'binary', m);
    }
    await recv();
  }
  const payload = Buffer.from('ping-e2e \x00\x01');
  ws.ping(payload);
  log.add('sent', 'ping', payload);
  await recv();
  ws.close(4000, 'e2e done');
  log.add('sent', 'close', Buffer.alloc(0), { code: 4000, reason: 'e2e done' });
  const c = await closed;
  log.add('recv', 'close', Buffer.alloc(0), c);
  finished = true;
}

// An event loop that runs dry before the end means the client stalled.
let finished = false;
process.on('beforeExit', () => {
  if (!finished) {
    console.error('node_client: stalled (nothing left to wait for) before closing');
    process.exit(1);
  }
});

main().catch((err) => { console.error(err); process.exit(1); });
