// What both peers log: one JSON object a line on stdout, binary values
// written as {"$bin": base64} so that the Go test can compare them with the
// attachments it decoded.
"use strict";

function norm(v) {
  if (Buffer.isBuffer(v)) return { $bin: v.toString("base64") };
  if (v instanceof ArrayBuffer) return { $bin: Buffer.from(v).toString("base64") };
  if (ArrayBuffer.isView(v)) return { $bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") };
  if (Array.isArray(v)) return v.map(norm);
  if (v && typeof v === "object") {
    const o = {};
    for (const k of Object.keys(v)) o[k] = norm(v[k]);
    return o;
  }
  return v;
}

function log(o) {
  process.stdout.write(JSON.stringify(o) + "\n");
}

module.exports = { norm, log };
