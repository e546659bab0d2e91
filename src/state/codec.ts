// How values cross Redis: Node's structured serialization (node:v8), so Dates, Maps, undefined and
// binary data come back as they went (JSON would turn a Payment's createdAt into a string). Only
// plain data crosses: a value holding a function or a class instance with private state is refused.
import { deserialize, serialize } from 'node:v8';

/** The value as bytes, or undefined when it cannot be serialized. */
export function encode(value: unknown): Buffer | undefined {
  try {
    return serialize(value);
  } catch {
    return undefined;
  }
}

/**
 * The value back from bytes read from Redis, or undefined when they are not a value this codec wrote
 * (corrupt, or written by a Node version this one cannot read): the caller treats it as a miss.
 * `maxBytes` bounds what is decoded at all.
 */
export function decode(bytes: Buffer, maxBytes: number): { value: unknown } | undefined {
  if (bytes.length === 0 || bytes.length > maxBytes) return undefined;
  try {
    return { value: deserialize(bytes) };
  } catch {
    return undefined;
  }
}
