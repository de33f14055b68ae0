// Retry delays: exponential with full jitter (AWS "Exponential Backoff and Jitter"), base 2 s, cap 1 h.
// A provider's Retry-After wins when it asks for longer. Rev AI jobs still in progress take minutes,
// so they retry on a slower schedule of their own.

export const SCHEDULES = {
  default: { baseMs: 2_000, capMs: 3_600_000 },
  jobInProgress: { baseMs: 30_000, capMs: 900_000 },
} as const;

export interface DelayInput {
  /** 1 for the first retry. */
  attempt: number;
  schedule: keyof typeof SCHEDULES;
  retryAfterMs: number | null;
  random: () => number;
}

/** The upper bound of the jitter window for an attempt. */
export function ceilingMs(attempt: number, schedule: keyof typeof SCHEDULES): number {
  const { baseMs, capMs } = SCHEDULES[schedule];
  return Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
}

export function nextDelayMs(input: DelayInput): number {
  const jittered = Math.floor(input.random() * ceilingMs(input.attempt, input.schedule));
  return Math.max(jittered, input.retryAfterMs ?? 0);
}
