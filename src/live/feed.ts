// The change feed behind subscriptions: one per process, read by every open stream. It learns which
// resources committed audit events are about from the database (Database.watchEvents: SQLite tails
// the table, PostgreSQL LISTENs), whichever process committed them, and wakes the streams that
// registered interest in those resources — only those. A wake-up carries no data: the stream reads
// its state again and sends it only if it changed, so a wake-up that is late, doubled or spurious
// costs a read and loses nothing.
//
// Streams are keyed by strings (eventKey: `KIND:id`). A stream follows several keys when its state
// can change through more than one (a document deleted with its session changes with the session's
// key); erasureRequestChanged will register the keys of its request and items the same way.
//
// The feed also bounds open streams per API key, and ends the streams of a revoked key: one batched
// query per process every REVOCATION_CHECK_MS for the keys that have streams open. Nothing runs while
// no stream is open, and nothing runs per stream: idle streams cost memory only.
import { revokedAmong } from '../auth/keys.ts';
import type { Database, EventWatch } from '../db/database.ts';
import { shuttingDown, tooManyStreams } from '../errors.ts';
import type { Logger } from '../logging.ts';

export const MAX_STREAMS_PER_KEY = 100;
/** A revoked key's streams end within this plus one check (PRODUCT.md: five seconds). */
export const REVOCATION_CHECK_MS = 2_500;
/** What a refused 101st stream is told to wait: streams end when their deletions do. */
const STREAMS_RETRY_AFTER_S = 10;

/** Why a stream wakes: what it follows changed (or may have), its key was revoked, the process is closing. */
export type Wake = 'changed' | 'revoked' | 'closing';
const WEIGHT: Record<Wake, number> = { changed: 0, revoked: 1, closing: 2 };

/** One open stream's registration: the keys it follows and the API key it was opened with. */
export class Interest {
  private pending: Wake | null = null;
  private waiter: ((wake: Wake) => void) | null = null;
  private released = false;

  constructor(
    readonly apiKeyId: string,
    readonly keys: readonly string[],
    private readonly onRelease: (interest: Interest) => void,
  ) {}

  /** Wake-ups coalesce: a stream busy reading gets one more read, however many came meanwhile. */
  wake(wake: Wake): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = null;
      waiter(wake);
    } else if (this.pending === null || WEIGHT[wake] > WEIGHT[this.pending]) {
      this.pending = wake;
    }
  }

  /** The next wake-up (at once when one came since the last). */
  next(): Promise<Wake> {
    const pending = this.pending;
    if (pending !== null) {
      this.pending = null;
      return Promise.resolve(pending);
    }
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** The stream ended: forget it (idempotent). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.waiter = null;
    this.onRelease(this);
  }
}

export interface FeedOptions {
  maxStreamsPerKey?: number;
  revocationCheckMs?: number;
}

export class ChangeFeed {
  private readonly byKey = new Map<string, Set<Interest>>();
  private readonly byApiKey = new Map<string, Set<Interest>>();
  private readonly watch: EventWatch;
  private readonly maxStreamsPerKey: number;
  private readonly revocationCheckMs: number;
  private revocationTimer: NodeJS.Timeout | null = null;
  private checking = false;
  private closed = false;
  private open = 0;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    options: FeedOptions = {},
  ) {
    this.maxStreamsPerKey = options.maxStreamsPerKey ?? MAX_STREAMS_PER_KEY;
    this.revocationCheckMs = options.revocationCheckMs ?? REVOCATION_CHECK_MS;
    this.watch = db.watchEvents({
      changed: (keys) => this.changed(keys),
      missed: () => this.wakeAll('changed'),
      failed: (error) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'change feed: reading committed events failed; retrying'),
    });
  }

  /** Streams open in this process. */
  get streams(): number {
    return this.open;
  }

  /**
   * Registers a new stream's interest in `keys`. Refused (thrown, before the stream starts, so the
   * HTTP status says it) past the per-key limit, or once the process is closing.
   */
  register(apiKeyId: string, keys: readonly string[]): Interest {
    if (this.closed) throw shuttingDown();
    const mine = this.byApiKey.get(apiKeyId);
    if (mine && mine.size >= this.maxStreamsPerKey) throw tooManyStreams(this.maxStreamsPerKey, STREAMS_RETRY_AFTER_S);
    const interest = new Interest(apiKeyId, [...new Set(keys)], (done) => this.release(done));
    for (const key of interest.keys) this.add(this.byKey, key, interest);
    this.add(this.byApiKey, apiKeyId, interest);
    this.open += 1;
    if (!this.revocationTimer) {
      this.revocationTimer = setInterval(() => void this.checkRevocations(), this.revocationCheckMs);
      this.revocationTimer.unref();
    }
    return interest;
  }

  /** Resolves once every change committed from now on will wake the streams that follow it. */
  ready(): Promise<void> {
    return this.watch.resume();
  }

  /** Refuses new streams, wakes every open one to end, stops reading the database. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.wakeAll('closing');
    this.stopTimers();
    await this.watch.close();
  }

  private add(index: Map<string, Set<Interest>>, key: string, interest: Interest): void {
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(interest);
  }

  private remove(index: Map<string, Set<Interest>>, key: string, interest: Interest): void {
    const set = index.get(key);
    if (!set) return;
    set.delete(interest);
    if (set.size === 0) index.delete(key);
  }

  private release(interest: Interest): void {
    for (const key of interest.keys) this.remove(this.byKey, key, interest);
    this.remove(this.byApiKey, interest.apiKeyId, interest);
    this.open -= 1;
    if (this.open === 0) this.stopTimers();
  }

  private stopTimers(): void {
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    this.revocationTimer = null;
    this.watch.pause();
  }

  private changed(keys: readonly string[]): void {
    for (const key of keys) {
      const interests = this.byKey.get(key);
      if (interests) for (const interest of interests) interest.wake('changed');
    }
  }

  private wakeAll(wake: Wake): void {
    for (const interests of this.byApiKey.values()) for (const interest of interests) interest.wake(wake);
  }

  private async checkRevocations(): Promise<void> {
    if (this.checking || this.byApiKey.size === 0) return;
    this.checking = true;
    try {
      const revoked = await this.db.read(revokedAmong([...this.byApiKey.keys()]));
      for (const apiKeyId of revoked) {
        const interests = this.byApiKey.get(apiKeyId);
        if (interests) for (const interest of interests) interest.wake('revoked');
      }
    } catch (error) {
      this.logger.warn({ err: error instanceof Error ? error.message : String(error) }, 'change feed: checking for revoked keys failed; retrying');
    } finally {
      this.checking = false;
    }
  }
}
