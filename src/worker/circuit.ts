// A circuit per provider: after `threshold` consecutive retryable failures, stop calling it for
// `cooldownMs`, then let one probe through; its answer closes or reopens the circuit. A few clear
// lines on the injected clock, so tests need no sleeping.
import type { Clock } from '../runtime.ts';

export type CircuitState = 'closed' | 'open' | 'half-open';

export class Circuit {
  private failures = 0;
  private openedAt: number | null = null;
  private probing = false;

  constructor(
    private readonly clock: Clock,
    private readonly threshold: number,
    private readonly cooldownMs: number,
  ) {}

  get state(): CircuitState {
    if (this.openedAt === null) return 'closed';
    return this.clock.now().getTime() - this.openedAt >= this.cooldownMs ? 'half-open' : 'open';
  }

  /** How many calls may start now: unlimited when closed, one probe when half-open, none when open. */
  permits(): number {
    const state = this.state;
    if (state === 'closed') return Number.POSITIVE_INFINITY;
    if (state === 'open' || this.probing) return 0;
    this.probing = true;
    return 1;
  }

  /** A permitted probe that found nothing to call: let the next tick probe instead. */
  unused(): void {
    this.probing = false;
  }

  /** `healthy`: the provider answered something other than "try again later". */
  record(healthy: boolean): void {
    this.probing = false;
    if (healthy) {
      this.failures = 0;
      this.openedAt = null;
      return;
    }
    this.failures += 1;
    if (this.openedAt !== null || this.failures >= this.threshold) this.openedAt = this.clock.now().getTime();
  }
}
