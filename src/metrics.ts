// Prometheus metrics (prom-client) on a registry of the gateway's own: requests, deletions, provider
// calls and their latency, and the upstream backlog read from the database when scraped. Labels are
// bounded sets (operation type, provider, kind, outcome, code), never ids or operation names.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from './db/database.ts';
import { all } from './db/sql.ts';
import { PROVIDERS } from './domain.ts';
import type { Observer } from './observer.ts';

export interface RequestObservation {
  /** query, mutation, subscription, or none when the request never reached execution. */
  operationType: string;
  /** ok, or the first error code of the answer. */
  outcome: string;
  durationMs: number;
}

export interface Metrics {
  registry: Registry;
  /** Deletions and provider calls, reported by the pipeline and the worker. */
  observer: Observer;
  request(observation: RequestObservation): void;
  /** The text exposition format, with the backlog gauge read from the database now. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

const BACKLOG_STATUSES = ['PENDING', 'FAILED'] as const;
const CODE_LABEL = /^[A-Z][A-Z0-9_]{0,47}$/;

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /** Subscription streams open in this process now (the change feed's count). */
  liveStreams?: () => number;
}

export function createMetrics(db: Database, options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const requests = new Counter({
    name: 'gateway_graphql_requests_total',
    help: 'GraphQL requests answered, by operation type and outcome (ok or the first error code).',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  const requestDuration = new Histogram({
    name: 'gateway_graphql_request_duration_seconds',
    help: 'Time from a GraphQL request arriving to its answer, provider call included.',
    labelNames: ['operation'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const deletions = new Counter({
    name: 'gateway_deletions_total',
    help: 'Delete decisions, by resource kind, provider and audit outcome.',
    labelNames: ['kind', 'provider', 'outcome'] as const,
    registers: [registry],
  });
  const providerCalls = new Counter({
    name: 'gateway_provider_calls_total',
    help: 'Provider delete calls, by provider, resulting upstream status and caller (request or worker).',
    labelNames: ['provider', 'status', 'via'] as const,
    registers: [registry],
  });
  const providerLatency = new Histogram({
    name: 'gateway_provider_call_duration_seconds',
    help: 'Latency of provider delete calls, timeouts included.',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: 'gateway_upstream_deletions',
    help: 'Upstream deletions waiting for a retry (PENDING) or given up (FAILED), by provider; read from the database at scrape time.',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
    async collect() {
      const rows = await db.read(
        all<{ provider: string; status: string; n: number }>(
          "SELECT provider, status, count(*) AS n FROM upstream_deletions WHERE status IN ('PENDING', 'FAILED') GROUP BY provider, status",
        ),
      );
      // Every series exists from the first scrape, so an alert on "> 0" never sees a gap.
      for (const provider of PROVIDERS) for (const status of BACKLOG_STATUSES) this.set({ provider, status }, 0);
      for (const row of rows) this.set({ provider: row.provider, status: row.status }, Number(row.n));
    },
  });
  const liveStreams = options.liveStreams;
  if (liveStreams) {
    new Gauge({
      name: 'gateway_subscription_streams',
      help: 'Subscription streams (GraphQL over SSE) open in this process.',
      registers: [registry],
      collect() {
        this.set(liveStreams());
      },
    });
  }

  return {
    registry,
    observer: {
      deletion: (event) => deletions.inc({ kind: event.kind, provider: event.provider ?? 'none', outcome: event.outcome }),
      upstreamCall: (event) => {
        providerCalls.inc({ provider: event.provider, status: event.status, via: event.via });
        providerLatency.observe({ provider: event.provider }, event.latencyMs / 1000);
      },
    },
    request({ operationType, outcome, durationMs }) {
      const operation = ['query', 'mutation', 'subscription'].includes(operationType) ? operationType : 'none';
      requests.inc({ operation, outcome: outcome === 'ok' || CODE_LABEL.test(outcome) ? outcome : 'OTHER' });
      requestDuration.observe({ operation }, durationMs / 1000);
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
