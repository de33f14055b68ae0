// The upstream retry worker: claim due PENDING rows under a lease, call the same adapter the request
// path uses, record the outcome with the same recorder. Nothing more; isolation per provider comes
// from a concurrency limit and a circuit per provider.
import type { Config } from '../config.ts';
import { PROVIDERS, WORKER_ACTOR, type Provider } from '../domain.ts';
import type { Database } from '../db/database.ts';
import { resourceRow } from '../catalog/row.ts';
import { upstreamTargetOf } from '../deletion/pipeline.ts';
import { claimDue } from '../outbox/claim.ts';
import { leaseExpiry } from '../outbox/lease.ts';
import { recordOutcome } from '../outbox/record.ts';
import type { UpstreamDeletionRow } from '../outbox/row.ts';
import type { Logger } from '../logging.ts';
import type { Observer } from '../observer.ts';
import { CALLS_PER_PROVIDER, type ProviderClient } from '../providers/http.ts';
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
  /** A claim is under way: the next waits for it (one claim transaction at a time per worker). */
  private ticking = false;
  private stopped = true;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;

  constructor(
    private readonly db: Database,
    private readonly config: Config,
    private readonly runtime: Runtime,
    private readonly client: ProviderClient,
    private readonly observer: Observer,
    private readonly logger: Logger,
    instanceId: string,
    options: WorkerOptions = {},
  ) {
    this.owner = `${instanceId}/worker`;
    this.concurrency = options.concurrencyPerProvider ?? CALLS_PER_PROVIDER;
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
      void this.tick().then(
        // Claimed something: more may be due, look again at once. Otherwise wait for the next poll
        // (or for a call to finish, which frees room: see process()).
        (claimed) => this.schedule(claimed > 0 ? 0 : this.pollIntervalMs),
        (error: unknown) => {
          // The database busy or unreachable (another process holding the write lock, PostgreSQL
          // restarting): try again at the next poll.
          this.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'worker claim failed');
          this.schedule(this.pollIntervalMs);
        },
      );
    }, delayMs);
    // Deliberately not unref'd: in `gateway worker` this timer is all that keeps the process alive.
    // stop() clears it.
  }

  /**
   * Claims what each provider has room for and starts those calls; returns how many were claimed.
   * Tests drive it directly with an injected clock, then `await worker.idle()`.
   */
  async tick(): Promise<number> {
    if (this.ticking) return 0;
    this.ticking = true;
    try {
      return await this.claimAndStart();
    } finally {
      this.ticking = false;
    }
  }

  private async claimAndStart(): Promise<number> {
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
      claimed = await this.claimAll(rooms);
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
      claimed += await this.tick();
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
  async claim(provider: Provider, limit: number): Promise<UpstreamDeletionRow[]> {
    return (await this.claimAll(new Map([[provider, limit]]))).get(provider) ?? [];
  }

  /**
   * Takes due rows, up to a limit per provider, in one transaction, counting the attempt now. The
   * lease outlives the slowest call (the client aborts at upstreamTimeoutMs), so a live holder never
   * loses its row mid-call; a dead one's row is free again once it expires.
   */
  claimAll(limits: ReadonlyMap<Provider, number>): Promise<Map<Provider, UpstreamDeletionRow[]>> {
    return this.db.write(() =>
      claimDue(this.runtime, {
        limits,
        owner: this.owner,
        leaseUntil: leaseExpiry(this.config, this.runtime.clock.now()),
        maxAttempts: this.config.upstreamMaxAttempts,
      }),
    );
  }

  private async process(provider: Provider, row: UpstreamDeletionRow): Promise<void> {
    this.inFlight.set(provider, this.inFlight.get(provider)! + 1);
    let answered = false;
    try {
      const resource = await this.db.read(resourceRow(row.kind, row.resourceId));
      const target = resource
        ? upstreamTargetOf(resource)
        : { kind: row.kind, id: row.resourceId, provider, organizationId: row.organizationId, sessionId: null, documentId: null };
      const call = await this.client.deleteUpstream(target);
      answered = true;
      this.circuit(provider).record(healthyAnswer(call.outcome));
      await this.db.write(() =>
        recordOutcome(this.config, this.runtime, {
          kind: row.kind,
          resourceId: row.resourceId,
          leaseOwner: this.owner,
          outcome: call.outcome,
          actor: WORKER_ACTOR,
          requestId: row.requestId,
          traceId: null,
        }),
      );
      // Observed once recorded: a log line or metric never announces an outcome the database lacks.
      this.observer.upstreamCall({
        provider,
        kind: row.kind,
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
