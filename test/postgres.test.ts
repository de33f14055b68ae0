// PostgreSQL as an operator meets it: a server that cannot be reached at start is a clear error and a
// non-zero exit (no stack trace, no password); connections the server drops while the gateway runs
// (a restart, a failover, an administrator's pg_terminate_backend) fail at most the requests in
// flight, with a masked error and nothing half-written, and the gateway recovers without a restart.
// Only in the postgres project (vitest.config.ts): it needs the server TEST_DATABASE_URL names.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGateway } from './support/cli.ts';
import { verifyEveryLog } from './support/database.ts';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on Deletion { deletedUpstream } } }`;

describe('a PostgreSQL server that cannot be reached at start', () => {
  it('stops every command with a message naming where, a non-zero exit, and neither stack trace nor password', async () => {
    const url = 'postgres://gateway:n0t-this-one@127.0.0.1:1/gateway';
    for (const args of [['migrate'], ['serve'], ['keys', 'list']]) {
      const result = await runGateway(args, { DATABASE_URL: url, LOG_LEVEL: 'silent', SANDBOX: '0', NODE_ENV: 'test', AITRONOS_API_KEY: 'a', SCRIPTIX_API_KEY: 's', DAILY_API_KEY: 'd', REVAI_ACCESS_TOKEN: 'r' });
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr).toContain('cannot use PostgreSQL at 127.0.0.1:1/gateway');
      expect(result.stderr).toMatch(/ECONNREFUSED/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
      expect(result.stderr + result.stdout).not.toContain('n0t-this-one');
    }
  });
});

describe('connections dropped while the gateway runs', () => {
  let t: TestGateway;
  let admin: pg.Client;

  beforeAll(async () => {
    t = await startTestGateway();
    admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.end();
    await t?.close();
  });

  it('fail at most the requests in flight, masked, with nothing half-written, and the next ones succeed', async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `trans_drop${i}`);
    await t.register(ids.map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })));
    const database = new URL(t.database.env.DATABASE_URL!).pathname.slice(1);
    const drop = () => admin.query('SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);

    // Every pooled connection killed while requests are under way, twice.
    const answers = await Promise.all(
      ids.map(async (id, i) => {
        if (i === 10 || i === 25) await drop();
        return t.gql(t.keys.member, DELETE, { id });
      }),
    );
    const failed = answers.filter((answer) => answer.body.data?.deleteTranscription?.__typename !== 'TranscriptionDeletion');
    for (const answer of failed) {
      // Masked: no driver message, no SQL, no stack.
      expect(JSON.stringify(answer.body)).not.toMatch(/terminat|postgres|pg_|SQL|\bat /i);
      expect(answer.body.errors?.[0]?.message).toBe('Unexpected error.');
    }
    // Nothing half-written: a resource marked deleted has its outbox row and its DELETED event.
    const marked = await t.sql<{ id: string }>("SELECT id FROM resources WHERE id LIKE 'trans_drop%' AND deleted_at IS NOT NULL");
    const outbox = await t.sql<{ id: string }>("SELECT resource_id AS id FROM upstream_deletions WHERE resource_id LIKE 'trans_drop%'");
    const events = await t.sql<{ id: string }>("SELECT resource_id AS id FROM audit_events WHERE resource_id LIKE 'trans_drop%' AND outcome = 'DELETED'");
    expect(outbox.map((r) => r.id).sort()).toEqual(marked.map((r) => r.id).sort());
    expect(events.map((r) => r.id).sort()).toEqual(marked.map((r) => r.id).sort());

    // Recovered without a restart: asked again, every one ends deleted (alreadyDeleted where it was).
    for (const id of ids) {
      const again = await t.gql(t.keys.member, DELETE, { id });
      expect(again.body.data?.deleteTranscription?.__typename, JSON.stringify(again.body)).toBe('TranscriptionDeletion');
    }
    expect(await verifyEveryLog(t.gateway.db)).toMatchObject({ valid: true });
    console.log(`connections dropped twice under 40 concurrent deletes: ${failed.length} requests failed (masked), ${40 - failed.length} answered, all 40 deleted after`);
  });
});
