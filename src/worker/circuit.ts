// A circuit per provider: after `threshold` consecutive retryable failures, stop calling it for
// `cooldownMs`, then let one probe through; its answer closes or reopens the circuit. A few clear
// lines on the injected clock, so tests need no sleeping. One set per process (`Circuits`), shared by
// the worker and the request path: both feed it, both hold back while it is open.
import { PROVIDERS, type Provider } from '../domain.ts';
import type { UpstreamOutcome } from '../providers/adapter.ts';
import type { ProviderCall } from '../providers/http.ts';
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

  /** How long until an open circuit lets a probe through (0 when it already would, or is closed). */
  retryInMs(): number {
    if (this.openedAt === null) return 0;
    return Math.max(0, this.openedAt + this.cooldownMs - this.clock.now().getTime());
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

/** Whether an answer shows the provider up: anything but "try again later" (a job still in progress is an answer). */
export function healthyAnswer(outcome: UpstreamOutcome): boolean {
  return outcome.status !== 'PENDING' || outcome.reason === 'JOB_IN_PROGRESS';
}

/** The circuits of one process, one per provider. */
export class Circuits {
  private readonly byProvider = new Map<Provider, Circuit>();

  constructor(clock: Clock, threshold = 5, cooldownMs = 15_000) {
    for (const provider of PROVIDERS) this.byProvider.set(provider, new Circuit(clock, threshold, cooldownMs));
  }

  of(provider: Provider): Circuit {
    return this.byProvider.get(provider)!;
  }

  /**
   * A request-path call through its provider's circuit: made while the circuit is closed (or as the
   * one probe once the cooldown is over) and fed back into it. While it is open nothing is called:
   * the answer is PENDING CIRCUIT_OPEN at once, due when the cooldown ends, for the worker to deliver.
   */
  async call(provider: Provider, send: () => Promise<ProviderCall>): Promise<ProviderCall> {
    const circuit = this.of(provider);
    if (circuit.permits() === 0) {
      return {
        outcome: {
          status: 'PENDING',
          httpStatus: null,
          reason: 'CIRCUIT_OPEN',
          error: `${provider} failed repeatedly; its circuit is open, so no call was made`,
          retryAfterMs: circuit.retryInMs(),
          notCalled: true,
        },
        latencyMs: 0,
      };
    }
    let call: ProviderCall;
    try {
      call = await send();
    } catch (error) {
      // A probe that never got an answer must not keep the provider shut.
      circuit.unused();
      throw error;
    }
    circuit.record(healthyAnswer(call.outcome));
    return call;
  }
}
