// What signed checkpoints add to the hash chain: someone with write access to the database who
// rewrites a log completely (every later hash, every Merkle node and the head recomputed, so the
// chain and tree alone verify) no longer matches the checkpoints signed before, and
// `auditTrailVerification` and `gateway audit verify` say so; so do a log cut short behind a
// checkpoint, and a checkpoint whose root was edited under its signature. Both backends.
import { afterEach, describe, expect, it } from 'vitest';
import { eventHash } from '../src/audit/chain.ts';
import type { AuditEventRow } from '../src/audit/event.ts';
import { decodeFrontier, encodeFrontier, extendFrontier, leafHashOf, rootOfFrontier, type StoredNode } from '../src/audit/log.ts';
import { verifyLog } from '../src/audit/verify.ts';
import { runGateway } from './support/cli.ts';
import { tamper } from './support/database.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const VERIFICATION = '{ auditTrailVerification { valid eventsChecked firstInvalidEventId checkpointsChecked } }';

let t: TestGateway | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
});

/** A gateway whose org_a log holds a few deletions and a signed checkpoint of it; its size. */
async function withCheckpoint(): Promise<{ gateway: TestGateway; size: number }> {
  const gateway = await startTestGateway();
  t = gateway;
  for (const id of ['trans_t1', 'trans_t2', 'trans_t3', 'trans_t4']) {
    await gateway.register([{ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
    const answer = await gateway.gql(gateway.keys.member, `mutation { deleteTranscription(transcriptionId: "${id}") { __typename } }`);
    expect(answer.body.data!.deleteTranscription.__typename).toBe('TranscriptionDeletion');
  }
  const checkpoint = await gateway.gql(gateway.keys.viewer, '{ auditCheckpoint { treeSize } }');
  const size = checkpoint.body.data!.auditCheckpoint.treeSize as number;
  expect(size).toBe(8);
  expect((await gateway.gql(gateway.keys.admin, VERIFICATION)).body.data!.auditTrailVerification).toEqual({
    valid: true,
    eventsChecked: size,
    firstInvalidEventId: null,
    checkpointsChecked: 1,
  });
  return { gateway, size };
}

/** A row as stored: details as its text. */
type StoredEvent = Omit<AuditEventRow, 'seq' | 'logId' | 'details'> & { details: string | null };

/**
 * Rewrites a log as a thorough attacker would: `change` applied to the event at `index`, then every
 * hash from there on, every stored Merkle node and the head recomputed, so that the chain and the
 * tree are consistent again.
 */
async function rewrite(gateway: TestGateway, logId: string, index: number, change: (event: StoredEvent) => void): Promise<void> {
  const events = await gateway.sql<StoredEvent>(
    `SELECT log_index AS "logIndex", id, at, actor, organization_id AS "organizationId", action, resource_kind AS "resourceKind",
       resource_id AS "resourceId", provider, outcome, request_id AS "requestId", trace_id AS "traceId",
       upstream_http_status AS "upstreamHttpStatus", details, previous_hash AS "previousHash", hash
     FROM audit_events WHERE log_id = ? ORDER BY log_index`,
    [logId],
  );
  const statements: [string, unknown[]][] = [];
  let previous: string | null = index === 0 ? null : events[index - 1]!.hash;
  for (const event of events.slice(index)) {
    if (Number(event.logIndex) === index) change(event);
    const hash = eventHash(previous, { ...event, upstreamHttpStatus: event.upstreamHttpStatus === null ? null : Number(event.upstreamHttpStatus), details: event.details === null ? null : JSON.parse(event.details) });
    statements.push(['UPDATE audit_events SET actor = ?, previous_hash = ?, hash = ? WHERE log_id = ? AND log_index = ?', [event.actor, previous, hash, logId, event.logIndex]]);
    event.previousHash = previous;
    event.hash = hash;
    previous = hash;
  }
  let frontier: Buffer[] = [];
  const nodes: StoredNode[] = [];
  for (const event of events) {
    const extended = extendFrontier(frontier, Number(event.logIndex), leafHashOf(event.hash));
    frontier = extended.frontier;
    nodes.push(...extended.completed);
  }
  statements.push(['DELETE FROM audit_tree_nodes WHERE log_id = ?', [logId]]);
  for (const node of nodes) statements.push(['INSERT INTO audit_tree_nodes (log_id, level, node_index, hash) VALUES (?, ?, ?, ?)', [logId, node.level, node.index, node.hash.toString('hex')]]);
  statements.push(['UPDATE audit_logs SET head_hash = ?, frontier = ? WHERE log_id = ?', [previous, encodeFrontier(frontier), logId]]);
  await tamper(gateway.gateway.db, statements);
}

describe('a log rewritten after a checkpoint was signed', () => {
  it('fails auditTrailVerification and `gateway audit verify`, though its chain and tree are consistent again', async () => {
    const { gateway, size } = await withCheckpoint();
    await rewrite(gateway, ORG, 2, (event) => (event.actor = 'user:mallory key:key_x'));
    const answer = await gateway.gql(gateway.keys.admin, VERIFICATION);
    // The walk verified every event's hash and link up to the checkpoint: only the checkpoint shows it.
    expect(answer.body.data!.auditTrailVerification).toEqual({ valid: false, eventsChecked: size, firstInvalidEventId: null, checkpointsChecked: 0 });
    const direct = await verifyLog(gateway.gateway.db, ORG);
    expect(direct.problem).toMatch(/no longer matches the checkpoint of size 8/);
    // The other organisation's log is its own and still verifies.
    expect((await gateway.gql(gateway.keys.otherAdmin, VERIFICATION)).body.data!.auditTrailVerification).toMatchObject({ valid: true });

    const cli = await runGateway(['audit', 'verify'], gateway.database.env);
    expect(cli.code).toBe(1);
    expect(cli.stdout).toMatch(new RegExp(`log ${ORG}: BROKEN .*no longer matches the checkpoint of size 8`));
    expect(cli.stdout).not.toMatch(new RegExp(`log ${OTHER_ORG}: BROKEN`));
  });

  it('fails when the newest events were removed and the head moved back behind a checkpoint', async () => {
    const { gateway } = await withCheckpoint();
    const kept = await gateway.sql<{ hash: string }>('SELECT hash FROM audit_events WHERE log_id = ? AND log_index = 5', [ORG]);
    let frontier: Buffer[] = [];
    const hashes = await gateway.sql<{ hash: string }>('SELECT hash FROM audit_events WHERE log_id = ? AND log_index < 6 ORDER BY log_index', [ORG]);
    hashes.forEach((row, i) => (frontier = extendFrontier(frontier, i, leafHashOf(row.hash)).frontier));
    await tamper(gateway.gateway.db, [
      ['DELETE FROM audit_events WHERE log_id = ? AND log_index >= 6', [ORG]],
      ['DELETE FROM audit_tree_nodes WHERE log_id = ? AND ((level = 1 AND node_index = 3) OR (level = 2 AND node_index = 1) OR (level = 3 AND node_index = 0))', [ORG]],
      ['UPDATE audit_logs SET size = 6, head_hash = ?, frontier = ? WHERE log_id = ?', [kept[0]!.hash, encodeFrontier(frontier), ORG]],
    ]);
    const answer = await gateway.gql(gateway.keys.admin, VERIFICATION);
    expect(answer.body.data!.auditTrailVerification).toMatchObject({ valid: false, eventsChecked: 6, firstInvalidEventId: null });
    expect((await verifyLog(gateway.gateway.db, ORG)).problem).toMatch(/a checkpoint of size 8 was signed, but the log holds 6 events/);
  });

  it("fails when the checkpoint's root was edited to the rewritten log's under the old signature", async () => {
    const { gateway } = await withCheckpoint();
    await rewrite(gateway, ORG, 0, (event) => (event.actor = 'user:mallory key:key_x'));
    const [head] = await gateway.sql<{ frontier: string }>('SELECT frontier FROM audit_logs WHERE log_id = ?', [ORG]);
    const root = rootOfFrontier(decodeFrontier(head!.frontier));
    const [checkpoint] = await gateway.sql<{ note: string }>('SELECT signed_note AS note FROM audit_checkpoints WHERE log_id = ? AND tree_size = 8', [ORG]);
    const lines = checkpoint!.note.split('\n');
    lines[2] = root.toString('base64');
    await tamper(gateway.gateway.db, [
      ['UPDATE audit_checkpoints SET root_hash = ?, signed_note = ? WHERE log_id = ? AND tree_size = 8', [root.toString('hex'), lines.join('\n'), ORG]],
    ]);
    // Without the key the edit would pass; the gateway checks the newest checkpoint's signature with its own.
    expect((await verifyLog(gateway.gateway.db, ORG)).valid).toBe(true);
    expect((await verifyLog(gateway.gateway.db, ORG, { verifierKey: gateway.gateway.signing.key.verifierKey })).problem).toMatch(/does not verify/);
    expect((await gateway.gql(gateway.keys.admin, VERIFICATION)).body.data!.auditTrailVerification).toMatchObject({ valid: false, eventsChecked: 8 });
    const cli = await runGateway(['audit', 'verify'], gateway.database.env);
    expect(cli.code).toBe(1);
  });
});
