// The SQL a delete issues, counted from the real database's query log: a session with many children
// costs the same statements as one with a single child (the cascade is set-based, loads are batched),
// and a later field of the same operation sees what an earlier one deleted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import { ORG, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE_SESSION = `mutation($sessionId: ID!) {
  deleteSession(sessionId: $sessionId) {
    __typename
    ... on SessionDeletion { sessionId documentsDeleted commentsDeleted deletedUpstream upstream { status } auditEvent { outcome } }
  }
}`;

/** Bound on statements for one deleteSession, whatever the number of children (15–16 measured: 12 before per-organisation logs added the log head and Merkle nodes to each append), with headroom. */
const MAX_STATEMENTS_PER_SESSION_DELETE = 20;

const statements: string[] = [];
let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway({ onQuery: (sql) => statements.push(sql) });
});
afterAll(async () => {
  await t?.close();
});

function session(id: string, documents: number, commentsEach: number): ResourceInputValue[] {
  const owned = { organizationId: ORG, ownerId: 'bob' };
  const inputs: ResourceInputValue[] = [{ kind: 'SESSION', id, ...owned }];
  for (let d = 0; d < documents; d++) {
    const document = `${id}_d${d}`;
    inputs.push({ kind: 'DOCUMENT', id: document, sessionId: id, ...owned });
    for (let c = 0; c < commentsEach; c++) {
      inputs.push({ kind: 'COMMENT', id: `${document}_c${c}`, sessionId: id, documentId: document, ...owned });
    }
  }
  return inputs;
}

/** Runs one operation and returns its answer with the SQL statements it issued. */
async function measured(query: string, variables: Record<string, unknown>) {
  statements.length = 0;
  const answer = await t.gql(t.keys.member, query, variables);
  return { answer, sql: [...statements] };
}

describe('SQL issued by a delete', () => {
  it('deletes a session with 50 documents and 200 comments in a bounded number of statements, the same as for one child', async () => {
    await t.register(session('sess_big', 50, 4));
    await t.register(session('sess_small', 1, 1));

    const big = await measured(DELETE_SESSION, { sessionId: 'sess_big' });
    expect(big.answer.body.data!.deleteSession).toMatchObject({ documentsDeleted: 50, commentsDeleted: 200, deletedUpstream: true });
    const small = await measured(DELETE_SESSION, { sessionId: 'sess_small' });
    expect(small.answer.body.data!.deleteSession).toMatchObject({ documentsDeleted: 1, commentsDeleted: 1, deletedUpstream: true });

    console.info(`deleteSession SQL statements: 50 documents + 200 comments → ${big.sql.length}; 1 document + 1 comment → ${small.sql.length}`);
    expect(big.sql.length).toBeLessThanOrEqual(MAX_STATEMENTS_PER_SESSION_DELETE);
    // The Merkle nodes an audit append stores depend on the event's place in its log (0 to log2 n
    // of them), not on the children: compared without them.
    const withoutNodes = (sql: string[]) => sql.filter((s) => !/audit_tree_nodes/.test(s)).length;
    expect(withoutNodes(big.sql)).toBe(withoutNodes(small.sql));
    // The session's row, then its documents and its comments: three set-based UPDATEs, not one per child.
    const updates = big.sql.filter((s) => /^update resources /i.test(s));
    expect(updates).toHaveLength(3);
    expect(deletesTo(t.simulators.scriptix, '/api/v3/speech-to-text/session/sess_big')).toHaveLength(1);
    expect(t.simulators.scriptix.requests.filter((r) => r.path.includes('sess_big_'))).toHaveLength(0);
  });

  it('loads the rows of many fields of one operation in one statement per table', async () => {
    await t.register(session('sess_reads', 5, 0));
    const fields = Array.from({ length: 5 }, (_, d) => `r${d}: resource(kind: DOCUMENT, id: "sess_reads_d${d}") { id deletedAt upstream { status } }`);
    const { answer, sql } = await measured(`{ ${fields.join(' ')} }`, {});
    expect(Object.values(answer.body.data!).map((r: any) => r.id)).toEqual(['sess_reads_d0', 'sess_reads_d1', 'sess_reads_d2', 'sess_reads_d3', 'sess_reads_d4']);
    console.info(`5 resource fields: ${sql.length} statements`);
    expect(sql.filter((s) => /from resources /i.test(s))).toHaveLength(1);
    // Upstream of a document not deleted: its own row, then its session's; one batch each.
    expect(sql.filter((s) => /from upstream_deletions /i.test(s)).length).toBeLessThanOrEqual(2);
  });
});

describe('later fields of one operation see earlier deletes', () => {
  it('a: deleteDocument, b: deleteSession — the session counts only what is still live, c: the document replays', async () => {
    await t.register(session('sess_serial', 3, 2));
    const query = `mutation {
      a: deleteDocument(sessionId: "sess_serial", documentId: "sess_serial_d0") {
        __typename ... on DocumentDeletion { commentsDeleted alreadyDeleted deletedAt }
      }
      b: deleteSession(sessionId: "sess_serial") {
        __typename ... on SessionDeletion { documentsDeleted commentsDeleted alreadyDeleted deletedAt }
      }
      c: deleteDocument(sessionId: "sess_serial", documentId: "sess_serial_d0") {
        __typename ... on DocumentDeletion { alreadyDeleted deletedAt upstream { kind resourceId } }
      }
      d: deleteComment(sessionId: "sess_serial", documentId: "sess_serial_d1", commentId: "sess_serial_d1_c0") {
        __typename ... on CommentDeletion { alreadyDeleted deletedAt upstream { kind resourceId } }
      }
    }`;
    const { answer, sql } = await measured(query, {});
    const { a, b, c, d } = answer.body.data!;
    expect(a).toMatchObject({ __typename: 'DocumentDeletion', commentsDeleted: 2, alreadyDeleted: false });
    expect(b).toMatchObject({ __typename: 'SessionDeletion', documentsDeleted: 2, commentsDeleted: 4, alreadyDeleted: false });
    expect(c).toMatchObject({ alreadyDeleted: true, deletedAt: a.deletedAt, upstream: { kind: 'DOCUMENT', resourceId: 'sess_serial_d0' } });
    expect(d).toMatchObject({ alreadyDeleted: true, deletedAt: b.deletedAt, upstream: { kind: 'SESSION', resourceId: 'sess_serial' } });
    console.info(`4 mutation fields in one operation: ${sql.length} statements`);
    const scriptixPaths = t.simulators.scriptix.requests.filter((r) => r.path.includes('sess_serial')).map((r) => r.path);
    expect(scriptixPaths).toEqual(['/api/v3/speech-to-text/session/sess_serial/document/sess_serial_d0', '/api/v3/speech-to-text/session/sess_serial']);
  });

  it('a comment loaded (and cached) before its session is deleted in the same operation replays afterwards', async () => {
    await t.register(session('sess_cached', 1, 2));
    const query = `mutation {
      a: deleteComment(sessionId: "sess_cached", documentId: "sess_cached_d0", commentId: "sess_cached_d0_c0") {
        __typename ... on CommentDeletion { alreadyDeleted }
      }
      b: deleteSession(sessionId: "sess_cached") {
        __typename ... on SessionDeletion { documentsDeleted commentsDeleted deletedAt }
      }
      c: deleteDocument(sessionId: "sess_cached", documentId: "sess_cached_d0") {
        __typename ... on DocumentDeletion { alreadyDeleted deletedAt commentsDeleted }
      }
    }`;
    const { answer } = await measured(query, {});
    const { a, b, c } = answer.body.data!;
    expect(a).toMatchObject({ alreadyDeleted: false });
    expect(b).toMatchObject({ documentsDeleted: 1, commentsDeleted: 1 });
    expect(c).toMatchObject({ alreadyDeleted: true, deletedAt: b.deletedAt, commentsDeleted: 0 });
  });
});
