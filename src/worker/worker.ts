// The upstream retry worker: claim due PENDING rows under a lease, call the same adapter the request
// path uses, record the outcome with the same recorder. Nothing more; isolation per provider comes
// from a concurrency limit and a circuit per provider.
import { and, asc, eq, isNull, lt, lte, like, or } from 'drizzle-orm';
import type { Config } from '../config.ts';
import { PROVIDERS, WORKER_ACTOR, type Provider, type ResourceKind } from '../domain.ts';
import { appendAuditEvent } from '../audit/append.ts';
import { immediate, type Db } from '../db/open.ts';
import { resources, upstreamDeletions, type UpstreamDeletionRow } from '../db/schema.ts';
import { LEASE_MARGIN_MS, upstreamTargetOf } from '../deletion/pipeline.ts';
import { recordOutcome } from '../deletion/recorder.ts';
import type { Logger } from '../logging.ts';
import type { Observer } from '../observer.ts';
import type { ProviderClient } from '../providers/http.ts';
import type { Runtime } from '../runtime.ts';
import { Circuit } from './circuit.ts';

export interface WorkerOptions {
  /** Provider calls in flight at once, per provider. */
  concurrencyPerProvider?: number;
  /** How often to look for due rows when idle. */
  pollIntervalMs?: number;
  /** Consecutive retryable failures that open a provider's circuit. */
  circuitThreshold?: number;
  /** How long an open circuit waits before one probe call. */
  circuitCooldownMs?: number;
}

export class Worker {
  readonly owner: string;
  private readonly inFlight = new Map<Provider, number>();
  private readonly circuits = new Map<Provider, Circuit>();
  private readonly running = new Set<Promise<void>>();
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
    for (const provider of PROVIDERS) {
      this.inFlight.set(provider, 0);
      this.circuits.set(
        provider,
        new Circuit(runtime.clock, options.circuitThreshold ?? 5, options.circuitCooldownMs ?? 15_000),
      );
    }
  }

  /** The circuit of a provider (open: calls are held back until the cooldown ends). */
  circuit(provider: Provider): Circuit {
    return this.circuits.get(provider)!;
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
      const claimed = this.tick();
      // A full batch means more may be due: look again at once; else wait for the next poll.
      this.schedule(claimed > 0 ? 0 : this.pollIntervalMs);
    }, delayMs);
    this.timer.unref?.();
  }

  /**
   * Claims what each provider has room for and starts those calls; returns how many were claimed.
   * Tests drive it directly with an injected clock, then `await worker.idle()`.
   */
  tick(): number {
    let claimed = 0;
    for (const provider of PROVIDERS) {
      const circuit = this.circuit(provider);
      const room = Math.min(this.concurrency - this.inFlight.get(provider)!, circuit.permits());
      if (room <= 0) continue;
      const rows = this.claim(provider, room);
      if (rows.length === 0) circuit.unused();
      for (const row of rows) {
        claimed += 1;
        this.track(this.process(provider, row));
      }
    }
    return claimed;
  }

  /** Resolves when every call started so far has been recorded. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Claims and delivers until nothing is due (tests and `gateway worker --drain`). */
  async drain(): Promise<void> {
    while (this.tick() > 0 || this.running.size > 0) await this.idle();
  }

  private track(promise: Promise<void>): void {
    this.running.add(promise);
    void promise.finally(() => this.running.delete(promise));
  }

  /**
   * Takes up to `limit` due rows of a provider in one BEGIN IMMEDIATE transaction, counting the
   * attempt now: a row whose call crashes the process every time still reaches its limit.
   */
  claim(provider: Provider, limit: number): UpstreamDeletionRow[] {
    const now = this.runtime.clock.now();
    const nowIso = now.toISOString();
    const leaseUntil = new Date(now.getTime() + this.config.upstreamTimeoutMs + LEASE_MARGIN_MS).toISOString();
    return immediate(this.db, (tx) => {
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
      const claimed: UpstreamDeletionRow[] = [];
      for (const row of due) {
        const where = and(eq(upstreamDeletions.kind, row.kind), eq(upstreamDeletions.resourceId, row.resourceId));
        if (row.attempts - row.inProgressAttempts >= this.config.upstreamMaxAttempts && row.reason !== 'JOB_IN_PROGRESS') {
          // Every attempt so far ended without an outcome (the process died mid-call): give up now.
          tx.update(upstreamDeletions)
            .set({ status: 'FAILED', reason: 'MAX_ATTEMPTS_EXCEEDED', leaseOwner: null, leaseUntil: null, nextAttemptAt: null, updatedAt: nowIso })
            .where(where)
            .run();
          appendAuditEvent(tx, this.runtime, {
            actor: WORKER_ACTOR,
            organizationId: row.organizationId,
            action: 'upstream.delete',
            resourceKind: row.kind as ResourceKind,
            resourceId: row.resourceId,
            provider: row.provider as Provider,
            outcome: 'UPSTREAM_FAILED',
            details: { attempt: row.attempts, reason: 'MAX_ATTEMPTS_EXCEEDED', error: row.lastError },
          });
          continue;
        }
        claimed.push(
          tx
            .update(upstreamDeletions)
            .set({ attempts: row.attempts + 1, leaseOwner: this.owner, leaseUntil, updatedAt: nowIso })
            .where(where)
            .returning()
            .get(),
        );
      }
      return claimed;
    });
  }

  private async process(provider: Provider, row: UpstreamDeletionRow): Promise<void> {
    this.inFlight.set(provider, this.inFlight.get(provider)! + 1);
    try {
      const resource = this.db
        .select()
        .from(resources)
        .where(and(eq(resources.kind, row.kind), eq(resources.id, row.resourceId)))
        .get();
      const target = resource
        ? upstreamTargetOf(resource as never)
        : { kind: row.kind as ResourceKind, id: row.resourceId, provider, organizationId: row.organizationId, sessionId: null, documentId: null };
      const call = await this.client.deleteUpstream(target);
      this.circuit(provider).record(call.outcome.status !== 'PENDING' || call.outcome.reason === 'JOB_IN_PROGRESS');
      this.observer.upstreamCall({
        provider,
        kind: row.kind as ResourceKind,
        status: call.outcome.status,
        httpStatus: call.outcome.httpStatus,
        reason: call.outcome.reason,
        latencyMs: call.latencyMs,
        via: 'worker',
      });
      recordOutcome(this.db, this.config, this.runtime, {
        kind: row.kind as ResourceKind,
        resourceId: row.resourceId,
        leaseOwner: this.owner,
        outcome: call.outcome,
        actor: WORKER_ACTOR,
        requestId: row.requestId,
        traceId: null,
      });
    } catch (error) {
      // The lease expires and the row is claimed again; log without the row's provider answer.
      this.logger.error({ err: error instanceof Error ? error.message : String(error), kind: row.kind, resourceId: row.resourceId }, 'worker call failed');
    } finally {
      this.inFlight.set(provider, this.inFlight.get(provider)! - 1);
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

/** Hands back the leases of a process that is shutting down, so another worker need not wait for them. */
export function releaseLeases(db: Db, instanceId: string, now: Date): number {
  return db
    .update(upstreamDeletions)
    .set({ leaseOwner: null, leaseUntil: null, updatedAt: now.toISOString() })
    .where(and(eq(upstreamDeletions.status, 'PENDING'), like(upstreamDeletions.leaseOwner, `${instanceId}/%`)))
    .run().changes;
}
