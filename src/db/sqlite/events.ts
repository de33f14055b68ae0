// Committed audit events on SQLite, for the change feed: one indexed query per process every
// TAIL_INTERVAL_MS while anyone watches, reading what was appended after the last seq seen. SQLite has
// one writer at a time and `seq` is assigned inside the write transaction, so seq order is commit
// order: a row with a smaller seq than one already read can never commit later, and nothing is
// skipped. Other processes' commits (a `gateway worker`, another `serve`) are read the same way.
import type { EventListener, EventWatch } from '../database.ts';
import { eventKey } from '../database.ts';
import { all, get, type Work } from '../sql.ts';

/** How often the tail looks: well within the one second a change may take to reach a stream. */
export const TAIL_INTERVAL_MS = 200;
const PAGE = 1_000;

function* lastSeq(): Work<number> {
  return Number((yield* get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM audit_events'))?.seq ?? 0);
}

function* eventsAfter(seq: number): Work<{ seq: number; kind: string | null; id: string | null }[]> {
  return yield* all('SELECT seq, resource_kind AS kind, resource_id AS id FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?', [seq, PAGE]);
}

export class SqliteEventTail implements EventWatch {
  private cursor = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly read: <T>(work: Work<T>) => T,
    private readonly listener: EventListener,
  ) {}

  resume(): Promise<void> {
    if (!this.timer) {
      try {
        // From the end as it is now: the caller reads the current state after this, so what was
        // committed before is in that read and what commits after is told.
        this.cursor = this.read(lastSeq());
      } catch (error) {
        this.listener.failed(error);
        return Promise.resolve();
      }
      this.timer = setInterval(() => this.poll(), TAIL_INTERVAL_MS);
      // Streams keep the server alive, not this timer.
      this.timer.unref();
    }
    return Promise.resolve();
  }

  pause(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.pause();
  }

  private poll(): void {
    const keys = new Set<string>();
    try {
      for (;;) {
        const rows = this.read(eventsAfter(this.cursor));
        for (const row of rows) if (row.kind && row.id) keys.add(eventKey(row.kind, row.id));
        if (rows.length > 0) this.cursor = Number(rows[rows.length - 1]!.seq);
        if (rows.length < PAGE) break;
      }
    } catch (error) {
      // The cursor did not move past anything unread: the next poll reads it.
      this.listener.failed(error);
    }
    if (keys.size > 0) this.listener.changed([...keys]);
  }
}
