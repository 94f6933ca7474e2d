import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FramingError, JsonStreamParser } from "../../../src/ovn-sync/ovsdb/framing.js";

function feedAll(p: JsonStreamParser, chunks: Uint8Array[]): unknown[] {
  return chunks.flatMap((c) => p.feed(c));
}

const tricky = [
  { id: 1, result: { s: "a}b{c]d[e", q: 'say "hi"', bs: "back\\slash\\", end: "\\" } },
  {
    method: "update2",
    params: ["m1", { T: { u: { modify: { k: ["map", [["}", "{"]]] } } } }],
    id: null,
  },
  ["bare array", "\u00e9\u4e2d\u{1f600}", '\\"}'],
  { id: "echo", method: "echo", params: [] },
  { n: -1.5e3, t: true, f: false, z: null, e: {}, a: [] },
];

describe("JsonStreamParser", () => {
  it("splits concatenated messages in one chunk, with whitespace between", () => {
    const text = tricky.map((m) => JSON.stringify(m)).join(" \n\t\r");
    const p = new JsonStreamParser();
    expect(p.feed(Buffer.from(text))).toEqual(tricky);
    expect(p.bufferedBytes).toBe(0);
  });

  it("gives the same messages when the stream is split at every byte", () => {
    const bytes = Buffer.from(tricky.map((m) => JSON.stringify(m)).join(""));
    // one byte per chunk
    const p1 = new JsonStreamParser();
    const chunks: Uint8Array[] = [];
    for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
    expect(feedAll(p1, chunks)).toEqual(tricky);
    // two chunks, split at every position (covers splits inside escapes and UTF-8 sequences)
    for (let i = 0; i <= bytes.length; i++) {
      const p = new JsonStreamParser();
      expect(feedAll(p, [bytes.subarray(0, i), bytes.subarray(i)])).toEqual(tricky);
    }
  });

  it("does not depend on the caller keeping its buffer", () => {
    const p = new JsonStreamParser();
    const buf = Buffer.from('{"a":"xyz"');
    expect(p.feed(buf)).toEqual([]);
    buf.fill(0x20);
    expect(p.feed(Buffer.from("}"))).toEqual([{ a: "xyz" }]);
  });

  it("round-trips random JSON values under random chunking", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue())), {
          minLength: 1,
          maxLength: 5,
        }),
        fc.array(fc.nat(), { maxLength: 8 }),
        (values, cuts) => {
          const bytes = Buffer.from(values.map((v) => JSON.stringify(v)).join(""));
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort(
            (a, b) => a - b,
          );
          const chunks: Uint8Array[] = [];
          let prev = 0;
          for (const c of points) {
            chunks.push(bytes.subarray(prev, c));
            prev = c;
          }
          chunks.push(bytes.subarray(prev));
          const got = feedAll(new JsonStreamParser(), chunks);
          expect(got).toEqual(JSON.parse(JSON.stringify(values)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("refuses a message larger than messageBytesMax, in one chunk or across chunks", () => {
    const big = JSON.stringify({ s: "x".repeat(200) });
    const p = new JsonStreamParser({ messageBytesMax: 100 });
    expect(() => p.feed(Buffer.from(big))).toThrow(FramingError);
    // unusable afterwards
    expect(() => p.feed(Buffer.from("{}"))).toThrow(FramingError);

    const q = new JsonStreamParser({ messageBytesMax: 100 });
    expect(q.feed(Buffer.from(big.slice(0, 60)))).toEqual([]);
    expect(() => q.feed(Buffer.from(big.slice(60, 120)))).toThrow(/larger than 100 bytes/);

    // An unterminated message is refused as soon as it passes the limit.
    const r = new JsonStreamParser({ messageBytesMax: 100 });
    expect(() => {
      for (let i = 0; i < 20; i++) r.feed(Buffer.from('{"a":['.repeat(1) + "1,".repeat(10)));
    }).toThrow(FramingError);

    // Exactly at the limit is accepted.
    const exact = JSON.stringify({ s: "y".repeat(100 - 8) });
    expect(exact.length).toBe(100);
    expect(new JsonStreamParser({ messageBytesMax: 100 }).feed(Buffer.from(exact))).toHaveLength(1);
  });

  it("refuses garbage between messages, bad JSON and excessive depth", () => {
    expect(() => new JsonStreamParser().feed(Buffer.from('{"a":1} x'))).toThrow(/unexpected byte/);
    expect(() => new JsonStreamParser().feed(Buffer.from('{"a":}'))).toThrow(/invalid JSON/);
    expect(() => new JsonStreamParser({ depthMax: 10 }).feed(Buffer.from("[".repeat(11)))).toThrow(
      /nesting/,
    );
  });
});
