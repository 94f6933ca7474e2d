/**
 * Bounded streaming splitter for JSON-RPC over a byte stream (RFC 7047 §3.1:
 * messages are concatenated JSON texts with no delimiter).
 *
 * It scans bytes (UTF-8 multi-byte sequences never contain ASCII structural
 * characters, so byte scanning is safe even when a chunk splits a character),
 * tracking string/escape state and bracket depth. When the top-level value
 * closes, the bytes are handed to JSON.parse.
 */

export const DEFAULT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
export const DEFAULT_DEPTH_MAX = 1024;

export class FramingError extends Error {
  override readonly name = "FramingError";
}

export interface JsonStreamParserOptions {
  /** Refuse a single message larger than this many bytes. */
  readonly messageBytesMax?: number;
  /** Refuse nesting deeper than this. */
  readonly depthMax?: number;
}

const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isWhitespace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

export class JsonStreamParser {
  private readonly messageBytesMax: number;
  private readonly depthMax: number;
  /** Parts of the message being accumulated (slices of earlier chunks). */
  private parts: Uint8Array[] = [];
  private partsBytes = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private failed: FramingError | undefined;

  constructor(options: JsonStreamParserOptions = {}) {
    this.messageBytesMax = options.messageBytesMax ?? DEFAULT_MESSAGE_BYTES_MAX;
    this.depthMax = options.depthMax ?? DEFAULT_DEPTH_MAX;
  }

  /** Bytes held for an incomplete message. */
  get bufferedBytes(): number {
    return this.partsBytes;
  }

  /**
   * Feed a chunk; returns every message completed by it, in order.
   * Throws FramingError on malformed or oversized input; the parser is then
   * unusable (the stream has lost sync and the connection must be closed).
   */
  feed(chunk: Uint8Array): unknown[] {
    if (this.failed) throw this.failed;
    const out: unknown[] = [];
    let start = this.depth > 0 ? 0 : -1; // start of the current message in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      if (this.depth === 0) {
        if (isWhitespace(b)) continue;
        if (b !== LBRACE && b !== LBRACKET) {
          this.fail(`unexpected byte 0x${b.toString(16)} between messages`);
        }
        start = i;
        this.depth = 1;
        continue;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (b === BACKSLASH) this.escape = true;
        else if (b === QUOTE) this.inString = false;
        continue;
      }
      if (b === QUOTE) this.inString = true;
      else if (b === LBRACE || b === LBRACKET) {
        this.depth++;
        if (this.depth > this.depthMax) this.fail(`nesting deeper than ${this.depthMax}`);
      } else if (b === RBRACE || b === RBRACKET) {
        this.depth--;
        if (this.depth === 0) {
          const tail = chunk.subarray(start, i + 1);
          this.checkSize(tail.length);
          this.parts.push(tail);
          const bytes = this.parts.length === 1 ? tail : Buffer.concat(this.parts);
          this.parts = [];
          this.partsBytes = 0;
          start = -1;
          out.push(this.parse(bytes));
        }
      }
      // Fail early on an oversized message without waiting for its end.
      if (start >= 0 && this.partsBytes + (i + 1 - start) > this.messageBytesMax) {
        this.checkSize(i + 1 - start);
      }
    }
    if (this.depth > 0 && start >= 0) {
      const rest = chunk.subarray(start);
      this.checkSize(rest.length);
      // Copy: the caller may reuse its buffer.
      this.parts.push(Uint8Array.prototype.slice.call(rest));
      this.partsBytes += rest.length;
    }
    return out;
  }

  private checkSize(extra: number): void {
    if (this.partsBytes + extra > this.messageBytesMax) {
      this.fail(`message larger than ${this.messageBytesMax} bytes`);
    }
  }

  private parse(bytes: Uint8Array): unknown {
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      return this.fail(`invalid JSON: ${(err as Error).message}`);
    }
  }

  private fail(message: string): never {
    this.failed = new FramingError(message);
    this.parts = [];
    this.partsBytes = 0;
    throw this.failed;
  }
}
