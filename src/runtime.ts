// The side effects every part shares, injectable so tests control time and ids.
import { randomBytes } from 'node:crypto';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Ids are a prefix plus random hex: `evt_…`, `req_…`, `key_…`. */
export type IdGenerator = (prefix: string) => string;

export const randomId: IdGenerator = (prefix) => `${prefix}_${randomBytes(12).toString('hex')}`;

export interface Runtime {
  clock: Clock;
  newId: IdGenerator;
  /** A number in [0, 1) — backoff jitter. */
  random: () => number;
}

export const systemRuntime: Runtime = { clock: systemClock, newId: randomId, random: Math.random };
