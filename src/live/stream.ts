// One subscription's stream: read the state, send it if it changed, wait for the feed to wake it,
// again, until a final state. The current state goes first (or nothing, while there is none yet);
// each wake-up re-reads, so a change the feed told late or twice is sent once, and one it could not
// tell (a lost LISTEN connection) is read after the feed's `missed`.
//
// Built on yoga's Repeater, whose return() ends it at once even while it waits, so a client that
// goes away frees the stream. A buffer of one: a client that reads slowly gets the latest state, not
// a queue of stale ones.
import { Repeater, SlidingBuffer } from 'graphql-yoga';
import { authenticationRequired } from '../errors.ts';
import type { ChangeFeed, Wake } from './feed.ts';

export interface Followed<T> {
  /** Who opened it: counted against the key's limit, ended when the key is revoked. */
  apiKeyId: string;
  /** What the feed wakes it for (eventKey). */
  keys: readonly string[];
  /** The current state; null while there is none (yet). */
  read(): Promise<T | null>;
  /** What a client sees of a state: two states that look the same are not a change. */
  fingerprint(state: T): string;
  /** The end: sent, then the stream completes. */
  final(state: T): boolean;
  /** Aborted when the client goes away. */
  signal?: AbortSignal;
}

/**
 * Registers the stream with the feed now — refused (thrown) past the key's limit, so the caller can
 * still answer with a status — and returns it.
 */
export function follow<T>(feed: ChangeFeed, spec: Followed<T>): AsyncIterableIterator<T> {
  const interest = feed.register(spec.apiKeyId, spec.keys);
  const states = new Repeater<T>(async (push, stop) => {
    const stopped = stop.then(() => 'stopped' as const);
    const onAbort = () => stop();
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await feed.ready();
      let last: string | null = null;
      // `stopped` first: when both are settled, ending wins over reading again.
      for (let wake: Wake | 'stopped' = spec.signal?.aborted ? 'stopped' : 'changed'; wake !== 'stopped' && wake !== 'closing'; wake = await Promise.race([stopped, interest.next()])) {
        if (wake === 'revoked') throw authenticationRequired('the API key was revoked');
        const state = await spec.read();
        if (state === null) continue;
        const seen = spec.fingerprint(state);
        if (seen === last) continue;
        last = seen;
        await push(state);
        if (spec.final(state)) break;
      }
    } finally {
      spec.signal?.removeEventListener('abort', onAbort);
      interest.release();
    }
    stop();
  }, new SlidingBuffer(1));
  // A stream returned before its first read never runs the executor: release it here too.
  return {
    next: () => states.next(),
    return: (value?: unknown) => {
      interest.release();
      return states.return(value);
    },
    throw: (error?: unknown) => {
      interest.release();
      return states.throw(error);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
