// Leases on outbox rows: whoever holds one is the only caller of the provider for that row.
import type { Config } from '../config.ts';

/** How much longer than the provider timeout a lease lasts, so it always outlives the call. */
export const LEASE_MARGIN_MS = 10_000;

/** When a lease taken now ends: after the slowest call the client allows, plus a margin. */
export function leaseExpiry(config: Pick<Config, 'upstreamTimeoutMs'>, now: Date): string {
  return new Date(now.getTime() + config.upstreamTimeoutMs + LEASE_MARGIN_MS).toISOString();
}
