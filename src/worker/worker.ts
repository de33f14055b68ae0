// The upstream retry worker: claim due PENDING rows under a lease, call the same adapter the request
// path uses, record the outcome with the same recorder. Nothing more; isolation per provider comes
// from a concurrency limit and a circuit per provider.
import { and, asc, eq, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { Config } from '../config.ts';
import { PROVIDERS, WORKER_ACTOR, type Provider, type ResourceKind } from '../domain.ts';
import { appendAuditEvent } from '../audit/append.ts';
import { immediate, type Db } from '../db/open.ts';
import { upstreamDeletions, type UpstreamDeletionRow } from '../db/schema.ts';
import { LEASE_MARGIN_MS, upstreamTargetOf } from '../deletion/pipeline.ts';
import { recordOutcomeSoon, upstreamEvent } from '../deletion/recorder.ts';
import { decodeResource } from '../catalog/loaders.ts';
import { statementsOf } from '../db/statements.ts';
import type { Logger } from '../logging.ts';
import type { Observer } from '../observer.ts';
import type { ProviderClient } from '../providers/http.ts';
import type { Runtime } from '../runtime.ts';
import { Circuits, healthyAnswer, type Circuit } from './circuit.ts';

export interface WorkerOptions {
  /** Provider calls in flight at once, per provider. */
  concurrencyPerProvider?: number;
  /** How often to look for due rows when idle. */
  pollIntervalMs?: number;
  /** Consecutive retryable failures that open a provider's circuit. */
  circuitThreshold?: number;
  /** How long an open circuit waits before one probe call. */
  circuitCooldownMs?: number;
  /** The process's circuits, shared with the request path (then the two options above are its own). */
  circuits?: Circuits;
}

export class Worker {
  readonly owner: string;
  private readonly inFlight = new Map<Provider, number>();
  private readonly circuits: Circuits;
  private readonly running = new Map<Provider, Set<Promise<void>>>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly db: Db,
    private readonly config: Config,
    private readonly runtime: Runtime,
    private readonly client: ProviderClient,
    private readonly observer: Observer,
    private readonly logger: Logger,
    instanceId: string,
    options: WorkerOptions = {},
  ) {
    this.owner = `${instanceId}/worker`;
    this.concurrency = options.concurrencyPerProvider ?? 16;
    this.pollIntervalMs = options.pollIntervalMs ?? 250;
    this.circuits = options.circuits ?? new Circuits(runtime.clock, options.circuitThreshold, options.circuitCooldownMs);
    for (const provider of PROVIDERS) {
      this.inFlight.set(provider, 0);
      this.running.set(provider, new Set());
    }
  }

  /** The circuit of a provider (open: calls are held back until the cooldown ends). */
  circuit(provider: Provider): Circuit {
    return this.circuits.of(provider);
  }

  /** Provider calls of this worker not yet recorded. */
  inFlightFor(provider: Provider): number {
    return this.inFlight.get(provider)!;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      let claimed = 0;
      try {
        claimed = this.tick();
      } catch (error) {
        // A database busy beyond busy_timeout (another process holding the write lock): try again later.
        this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'worker claim failed');
      }
      // Claimed something: more may be due, look again at once. Otherwise wait for the next poll
      // (or for a call to finish, which frees room: see process()).
      this.schedule(claimed > 0 ? 0 : this.pollIntervalMs);
    }, delayMs);
    // Deliberately not unref'd: in `gateway worker` this timer is all that keeps the process alive.
    // stop() clears it.
  }

  /**
   * Claims what each provider has room for and starts those calls; returns how many were claimed.
   * Tests drive it directly with an injected clock, then `await worker.idle()`.
   */
  tick(): number {
    const rooms = new Map<Provider, number>();
    for (const provider of PROVIDERS) {
      const free = this.concurrency - this.inFlight.get(provider)!;
      if (free <= 0) continue;
      const room = Math.min(free, this.circuit(provider).permits());
      if (room > 0) rooms.set(provider, room);
    }
    if (rooms.size === 0) return 0;
    let claimed: Map<Provider, UpstreamDeletionRow[]>;
    try {
      claimed = this.claimAll(rooms);
    } catch (error) {
      // A half-open circuit's probe permit went unused; do not leave the provider shut.
      for (const provider of rooms.keys()) this.circuit(provider).unused();
      throw error;
    }
    for (const provider of rooms.keys()) {
      const rows = claimed.get(provider) ?? [];
      if (rows.length === 0) this.circuit(provider).unused();
      for (const row of rows) this.track(provider, this.process(provider, row));
    }
    return [...claimed.values()].reduce((sum, rows) => sum + rows.length, 0);
  }

  /** Resolves when every call started so far (of one provider, or of all) has been recorded. */
  async idle(provider?: Provider): Promise<void> {
    const sets = provider ? [this.running.get(provider)!] : [...this.running.values()];
    for (;;) {
      const pending = sets.flatMap((set) => [...set]);
      if (pending.length === 0) return;
      await Promise.all(pending);
    }
  }

  /**
   * Claims and delivers until nothing is due and nothing is in flight, starting a new call as soon
   * as one finishes (tests, and measuring how fast a backlog drains). Returns how many it claimed.
   */
  async drain(): Promise<number> {
    let claimed = 0;
    for (;;) {
      claimed += this.tick();
      const pending = [...this.running.values()].flatMap((set) => [...set]);
      if (pending.length === 0) return claimed;
      await Promise.race(pending);
      // Let the other calls that finished meanwhile record too: one claim then fills all their room.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private track(provider: Provider, promise: Promise<void>): void {
    const set = this.running.get(provider)!;
    set.add(promise);
    void promise.finally(() => set.delete(promise));
  }

  /** Takes up to `limit` due rows of one provider (see claimAll). */
  claim(provider: Provider, limit: number): UpstreamDeletionRow[] {
    return this.claimAll(new Map([[provider, limit]])).get(provider) ?? [];
  }

  /**
   * Takes due rows, up to a limit per provider, in one BEGIN IMMEDIATE transaction, counting the
   * attempt now: a row whose call crashes the process every time still reaches its limit.
   */
  claimAll(limits: ReadonlyMap<Provider, number>): Map<Provider, UpstreamDeletionRow[]> {
    const now = this.runtime.clock.now();
    const nowIso = now.toISOString();
    // The lease outlives the slowest call (the client aborts at upstreamTimeoutMs), so a live holder
    // never loses its row mid-call; a dead one's row is free again once it expires.
    const leaseUntil = new Date(now.getTime() + this.config.upstreamTimeoutMs + LEASE_MARGIN_MS).toISOString();
    return immediate(this.db, (tx) => {
      const claimed = new Map<Provider, UpstreamDeletionRow[]>();
      for (const [provider, limit] of limits) {
        const due = tx
          .select()
          .from(upstreamDeletions)
          .where(
            and(
              eq(upstreamDeletions.status, 'PENDING'),
              eq(upstreamDeletions.provider, provider),
              lte(upstreamDeletions.nextAttemptAt, nowIso),
              or(isNull(upstreamDeletions.leaseUntil), lt(upstreamDeletions.leaseUntil, nowIso)),
            ),
          )
          .orderBy(asc(upstreamDeletions.nextAttemptAt))
          .limit(limit)
          .all();
        const rows: UpstreamDeletionRow[] = [];
        for (const row of due) {
          const where = and(eq(upstreamDeletions.kind, row.kind), eq(upstreamDeletions.resourceId, row.resourceId));
          // Recorded outcomes give up in the recorder; reaching the limit here means the last attempts
          // never recorded one (the process died mid-call), so stop before another call.
          if (row.attempts - row.inProgressAttempts >= this.config.upstreamMaxAttempts) {
            tx.update(upstreamDeletions)
              .set({ status: 'FAILED', reason: 'MAX_ATTEMPTS_EXCEEDED', leaseOwner: null, leaseUntil: null, nextAttemptAt: null, updatedAt: nowIso })
              .where(where)
              .run();
            appendAuditEvent(
              this.db,
              this.runtime,
              upstreamEvent(row, WORKER_ACTOR, 'upstream.delete', 'UPSTREAM_FAILED', {
                details: { attempt: row.attempts, reason: 'MAX_ATTEMPTS_EXCEEDED', lastReason: row.reason, error: row.lastError },
              }),
            );
            continue;
          }
          rows.push(
            tx
              .update(upstreamDeletions)
              .set({ attempts: row.attempts + 1, leaseOwner: this.owner, leaseUntil, updatedAt: nowIso })
              .where(where)
              .returning()
              .get(),
          );
        }
        if (rows.length > 0) claimed.set(provider, rows);
      }
      return claimed;
    });
  }

  private async process(provider: Provider, row: UpstreamDeletionRow): Promise<void> {
    this.inFlight.set(provider, this.inFlight.get(provider)! + 1);
    let answered = false;
    try {
      const resource = statementsOf(this.db).resource.get({ kind: row.kind, id: row.resourceId });
      const target = resource
        ? upstreamTargetOf(decodeResource(resource))
        : { kind: row.kind as ResourceKind, id: row.resourceId, provider, organizationId: row.organizationId, sessionId: null, documentId: null };
      const call = await this.client.deleteUpstream(target);
      answered = true;
      this.circuit(provider).record(healthyAnswer(call.outcome));
      await recordOutcomeSoon(this.db, this.config, this.runtime, {
        kind: row.kind as ResourceKind,
        resourceId: row.resourceId,
        leaseOwner: this.owner,
        outcome: call.outcome,
        actor: WORKER_ACTOR,
        requestId: row.requestId,
        traceId: null,
      });
      // Observed once recorded: a log line or metric never announces an outcome the database lacks.
      this.observer.upstreamCall({
        provider,
        kind: row.kind as ResourceKind,
        status: call.outcome.status,
        httpStatus: call.outcome.httpStatus,
        reason: call.outcome.reason,
        latencyMs: call.latencyMs,
        via: 'worker',
      });
    } catch (error) {
      // The lease expires and the row is claimed again; log without the row's provider answer.
      this.logger.error({ err: error instanceof Error ? error.message : String(error), kind: row.kind, resourceId: row.resourceId }, 'worker call failed');
    } finally {
      // A half-open circuit's probe that never got an answer must not keep the provider shut.
      if (!answered) this.circuit(provider).unused();
      this.inFlight.set(provider, this.inFlight.get(provider)! - 1);
      // Room just freed up: look for the next due row now rather than at the next poll.
      if (!this.stopped) this.schedule(0);
    }
  }

  /** Stops claiming, waits for calls in flight (bounded), releases leases this process still holds. */
  async stop(timeoutMs = 10_000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.race([this.idle(), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}

/**
 * Hands back the leases of a process that is shutting down (its worker's and its requests'), so
 * another worker need not wait for them to expire.
 */
export function releaseLeases(db: Db, instanceId: string, now: Date): number {
  const prefix = `${instanceId}/`;
  return db
    .update(upstreamDeletions)
    .set({ leaseOwner: null, leaseUntil: null, updatedAt: now.toISOString() })
    .where(
      and(
        eq(upstreamDeletions.status, 'PENDING'),
        // An exact prefix: LIKE would read the `_` of an instance id as a wildcard.
        sql`substr(${upstreamDeletions.leaseOwner}, 1, ${prefix.length}) = ${prefix}`,
      ),
    )
    .run().changes;
}
