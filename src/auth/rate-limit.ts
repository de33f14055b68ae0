// Per-key rate limit for mutations: a fixed one-minute window per key, in memory (one gateway process).

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
  ) {}

  /**
   * Counts `cost` units (deletes) at once; null when allowed, else the seconds until the window
   * resets. All or nothing: a refused take counts nothing, so a call refused whole spends nothing.
   */
  take(key: string, cost = 1): number | null {
    const now = this.now();
    let window = this.windows.get(key);
    if (!window || now - window.start >= 60_000) {
      window = { start: now, count: 0 };
      this.windows.set(key, window);
      if (this.windows.size > 10_000) this.prune(now);
    }
    if (window.count + cost <= this.perMinute) {
      window.count += cost;
      return null;
    }
    return Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000));
  }

  private prune(now: number): void {
    for (const [key, window] of this.windows) if (now - window.start >= 60_000) this.windows.delete(key);
  }
}
