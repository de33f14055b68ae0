// What the pipeline and the worker report as they go: logs and metrics hang off this one interface,
// so neither knows about pino or Prometheus.
import type { AuditOutcome, Provider, ResourceKind, UpstreamStatus } from './domain.ts';

export interface Observer {
  deletion(event: { kind: ResourceKind; provider: Provider | null; outcome: AuditOutcome; requestId: string }): void;
  upstreamCall(event: {
    provider: Provider;
    kind: ResourceKind;
    status: UpstreamStatus;
    httpStatus: number | null;
    reason: string | null;
    latencyMs: number;
    via: 'request' | 'worker';
  }): void;
}

export const silentObserver: Observer = { deletion: () => {}, upstreamCall: () => {} };
