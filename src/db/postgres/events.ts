// Committed audit events on PostgreSQL, for the change feed: LISTEN on a connection of its own (not
// one of the pool's). A trigger on audit_events (drizzle/postgres/0002_audit_events_notify.sql)
// NOTIFYs the event's resource; PostgreSQL delivers a notification when its transaction commits, in
// commit order, to every listening session of every process. Notifications sent while this
// connection was down are lost, so after every (re)connect the listener is told `missed` and each
// open stream reads its state again.
import pg from 'pg';
import type { EventListener, EventWatch } from '../database.ts';

/** The channel the trigger notifies; its payload is the event's resource as eventKey spells it. */
export const EVENTS_CHANNEL = 'sdg_audit_events';
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

export class PostgresEventListener implements EventWatch {
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private retry: NodeJS.Timeout | null = null;
  private delayMs = RECONNECT_MIN_MS;
  private closed = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly listener: EventListener,
  ) {}

  /** Connects on first use and then stays: an idle LISTEN costs the server and this process nothing. */
  resume(): Promise<void> {
    if (this.closed || this.client || this.retry) return Promise.resolve();
    return (this.connecting ??= this.connect().finally(() => (this.connecting = null)));
  }

  pause(): void {}

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    await this.connecting;
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ ...this.config, keepAlive: true });
    client.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL && message.payload) this.listener.changed([message.payload]);
    });
    // A dropped connection (server restart, failover, network) is an event: connect again.
    client.on('error', (error) => this.lost(client, error));
    client.on('end', () => this.lost(client, new Error('the LISTEN connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners('end');
      await client.end().catch(() => undefined);
      this.listener.failed(error);
      this.scheduleReconnect();
      return;
    }
    if (this.closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.delayMs = RECONNECT_MIN_MS;
    // Whatever committed while no connection listened went untold: every stream reads again.
    this.listener.missed();
  }

  private lost(client: pg.Client, error: unknown): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    this.listener.failed(error);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      void this.resume();
    }, this.delayMs);
    this.retry.unref();
    this.delayMs = Math.min(this.delayMs * 2, RECONNECT_MAX_MS);
  }
}
