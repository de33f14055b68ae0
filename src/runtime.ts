// The side effects every part shares, injectable so tests control time and ids.
import { randomBytes } from 'node:crypto';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Ids are a prefix plus hex: `evt_…`, `req_…`, `key_…`. */
export type IdGenerator = (prefix: string) => string;

// Random bytes drawn 4 KiB at a time: one getrandom call per ~500 ids instead of one per id.
let pool = Buffer.alloc(0);
let offset = 0;
function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    pool = randomBytes(4096);
    offset = 0;
  }
  offset += bytes;
  return pool.toString('hex', offset - bytes, offset);
}

/**
 * Milliseconds then 64 random bits: ids sort by creation time, so the indexes on them grow at the end
 * (an audit event id inserted at a random place in its index costs several page writes per commit).
 */
export const randomId: IdGenerator = (prefix) => `${prefix}_${Date.now().toString(16).padStart(12, '0')}${randomHex(8)}`;

export interface Runtime {
  clock: Clock;
  newId: IdGenerator;
  /** A number in [0, 1) — backoff jitter. */
  random: () => number;
}

export const systemRuntime: Runtime = { clock: systemClock, newId: randomId, random: Math.random };
