'use strict';
// A minimal WebSocket framing (RFC 6455 section 5) for the peers that speak
// WebSocket over an HTTP/2 stream (RFC 8441), where the ws package cannot
// go: frames written with or without a mask, and a reader that turns the
// stream's bytes, cut anywhere, into messages and control frames.

const crypto = require('crypto');

const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
const NAME = { 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' };

// frame returns one frame's bytes.
function frame(op, payload, { fin = true, mask = false } = {}) {
  payload = Buffer.from(payload);
  const n = payload.length;
  const head = [(fin ? 0x80 : 0) | op];
  const m = mask ? 0x80 : 0;
  if (n < 126) head.push(m | n);
  else if (n < 65536) head.push(m | 126, n >> 8, n & 0xff);
  else {
    head.push(m | 127, 0, 0, 0, 0);
    head.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  if (!mask) return Buffer.concat([Buffer.from(head), payload]);
  const key = crypto.randomBytes(4);
  const body = Buffer.alloc(n);
  for (let i = 0; i < n; i++) body[i] = payload[i] ^ key[i & 3];
  return Buffer.concat([Buffer.from(head), key, body]);
}

// message returns the frames of a message: parts (strings or Buffers) are
// its fragments.
function message(type, parts, mask) {
  return Buffer.concat(parts.map((p, i) => frame(i === 0 ? OP[type] : 0, p, { fin: i === parts.length - 1, mask })));
}

// closeFrame returns a close frame with code and reason.
function closeFrame(code, reason, mask) {
  const r = Buffer.from(reason);
  const p = Buffer.alloc(2 + r.length);
  p.writeUInt16BE(code, 0);
  r.copy(p, 2);
  return frame(OP.close, p, { mask });
}

// Reader calls onMessage(type, payload, frames) for each data message and
// control frame, with close frames' payload parsed as {code, reason}.
class Reader {
  constructor(onMessage) {
    this.buf = Buffer.alloc(0);
    this.onMessage = onMessage;
    this.parts = [];
    this.type = null;
  }

  push(chunk) {
    this.buf = Buffer.concat([this.buf, chunk]);
    for (;;) {
      const b = this.buf;
      if (b.length < 2) return;
      let n = b[1] & 0x7f;
      let off = 2;
      if (n === 126) {
        if (b.length < 4) return;
        n = b.readUInt16BE(2);
        off = 4;
      } else if (n === 127) {
        if (b.length < 10) return;
        n = Number(b.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (b[1] & 0x80) !== 0;
      const key = masked ? b.slice(off, off + 4) : null;
      if (masked) off += 4;
      if (b.length < off + n) return;
      const payload = Buffer.from(b.slice(off, off + n));
      if (masked) for (let i = 0; i < n; i++) payload[i] ^= key[i & 3];
      this.buf = b.slice(off + n);
      this.frame(b[0] & 0x80, b[0] & 0x0f, payload);
    }
  }

  frame(fin, op, payload) {
    if (op >= 8) {
      if (op === OP.close) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 0;
        return this.onMessage('close', { code, reason: payload.slice(2).toString() }, 1);
      }
      return this.onMessage(NAME[op], payload, 1);
    }
    if (op !== 0) this.type = NAME[op];
    this.parts.push(payload);
    if (!fin) return;
    const frames = this.parts.length;
    const whole = Buffer.concat(this.parts);
    this.parts = [];
    this.onMessage(this.type, whole, frames);
  }
}

module.exports = { frame, message, closeFrame, Reader, OP };
