import { InputError } from "../errors.js";

/** What a cache holds: text, JSON, bytes, or an embedding. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type CacheValue = string | Buffer | Float32Array | JsonValue;

const KIND_STRING = 0;
const KIND_JSON = 1;
const KIND_BINARY = 2;
const KIND_F32 = 3;

/** Fixed bytes before the payload: kind (u8), absolute expiry (f64, ms since the epoch), tag bytes (u16). */
export const HEADER_BYTES = 11;

/**
 * The wire form every tier below L1 stores: an 11-byte header, the entry's tags,
 * then the payload. Embeddings travel as their raw little-endian float32 bytes,
 * never as JSON. Carrying the expiry and the tags lets a back-filled copy expire
 * no later than its source and stay reachable by tag invalidation.
 */
export function encodeValue(value: CacheValue, expiresAt: number, tags?: readonly string[]): Buffer {
  let kind: number;
  let payload: Buffer;
  if (typeof value === "string") {
    kind = KIND_STRING;
    payload = Buffer.from(value, "utf8");
  } else if (Buffer.isBuffer(value)) {
    kind = KIND_BINARY;
    payload = value;
  } else if (value instanceof Float32Array) {
    kind = KIND_F32;
    payload = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  } else if (value instanceof Uint8Array) {
    kind = KIND_BINARY;
    payload = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  } else {
    kind = KIND_JSON;
    const text = JSON.stringify(value);
    if (text === undefined) throw new InputError("cache value is not JSON-serialisable");
    payload = Buffer.from(text, "utf8");
  }
  const tagBytes = tags && tags.length > 0 ? Buffer.from(tags.join("\n"), "utf8") : undefined;
  const tagLength = tagBytes?.length ?? 0;
  if (tagLength > 0xffff) throw new InputError("cache entry tags take more than 65535 bytes");
  const out = Buffer.allocUnsafe(HEADER_BYTES + tagLength + payload.length);
  out[0] = kind;
  out.writeDoubleLE(expiresAt, 1);
  out.writeUInt16LE(tagLength, 9);
  tagBytes?.copy(out, HEADER_BYTES);
  payload.copy(out, HEADER_BYTES + tagLength);
  return out;
}

/** The tags an encoded entry carries. */
export function tagsOf(encoded: Buffer): string[] | undefined {
  const n = encoded.readUInt16LE(9);
  return n === 0 ? undefined : encoded.toString("utf8", HEADER_BYTES, HEADER_BYTES + n).split("\n");
}

export function expiresAtOf(encoded: Buffer): number {
  return encoded.readDoubleLE(1);
}

/**
 * Decodes the wire form; undefined for bytes that are not a cache entry (a value
 * another program wrote, or forged): it never throws on what a tier hands back.
 */
export function decodeValue(encoded: Buffer): CacheValue | undefined {
  if (encoded.length < HEADER_BYTES) return undefined;
  if (!Number.isFinite(encoded.readDoubleLE(1))) return undefined;
  const start = HEADER_BYTES + encoded.readUInt16LE(9);
  if (start > encoded.length) return undefined;
  const payload = encoded.subarray(start);
  switch (encoded[0]) {
    case KIND_STRING:
      return payload.toString("utf8");
    case KIND_JSON:
      try {
        return JSON.parse(payload.toString("utf8")) as JsonValue;
      } catch {
        return undefined;
      }
    case KIND_BINARY:
      return Buffer.from(payload);
    case KIND_F32: {
      if (payload.length % 4 !== 0) return undefined;
      // copy into an aligned buffer: a Float32Array needs a 4-byte aligned offset
      const out = new Float32Array(payload.length / 4);
      Buffer.from(out.buffer).set(payload);
      return out;
    }
    default:
      return undefined;
  }
}
