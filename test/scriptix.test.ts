import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import { ORG, OTHER_ORG, TEST_CREDENTIALS, deletesTo, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETION_FIELDS = `deleted deletedAt deletedUpstream alreadyDeleted
  upstream { kind resourceId status attempts reason lastHttpStatus }
  auditEvent { outcome action resourceId details }`;
const ERROR_FIELDS = `... on Error { code message status } ... on ValidationError { field }`;

const DELETE_SESSION = `mutation($sessionId: ID!) {
  deleteSession(sessionId: $sessionId) {
    __typename
    ... on SessionDeletion { sessionId documentsDeleted commentsDeleted ${DELETION_FIELDS} }
    ${ERROR_FIELDS}
  }
}`;
const DELETE_DOCUMENT = `mutation($sessionId: ID!, $documentId: ID!) {
  deleteDocument(sessionId: $sessionId, documentId: $documentId) {
    __typename
    ... on DocumentDeletion { sessionId documentId commentsDeleted ${DELETION_FIELDS} }
    ${ERROR_FIELDS}
  }
}`;
const DELETE_COMMENT = `mutation($sessionId: ID!, $documentId: ID!, $commentId: ID!) {
  deleteComment(sessionId: $sessionId, documentId: $documentId, commentId: $commentId) {
    __typename
    ... on CommentDeletion { sessionId documentId commentId ${DELETION_FIELDS} }
    ${ERROR_FIELDS}
  }
}`;
const RESOURCE = `query($kind: ResourceKind!, $id: ID!) { resource(kind: $kind, id: $id) { deletedAt upstream { kind resourceId status } } }`;

const SESSIONS = '/api/v3/speech-to-text/session';
const sessionPath = (s: string) => `${SESSIONS}/${s}`;
const documentPath = (s: string, d: string) => `${SESSIONS}/${s}/document/${d}`;
const commentPath = (s: string, d: string, c: string) => `${SESSIONS}/${s}/document/${d}/comments/${c}`;

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

/** Every DELETE the Scriptix simulator received whose path starts with this session's path. */
function callsUnder(session: string) {
  return t.simulators.scriptix.requests.filter((r) => r.method === 'DELETE' && r.path.startsWith(sessionPath(session)));
}

/** A session owned by `owner` with `documents` documents of `commentsEach` comments each, all owned by `owner`. */
async function tree(session: string, documents: number, commentsEach: number, owner = 'bob'): Promise<{ documents: string[]; comments: Record<string, string[]> }> {
  const inputs: ResourceInputValue[] = [{ kind: 'SESSION', id: session, organizationId: ORG, ownerId: owner }];
  const docs: string[] = [];
  const comments: Record<string, string[]> = {};
  for (let d = 0; d < documents; d++) {
    const doc = `${session}_d${d}`;
    docs.push(doc);
    inputs.push({ kind: 'DOCUMENT', id: doc, sessionId: session, organizationId: ORG, ownerId: owner });
    comments[doc] = [];
    for (let c = 0; c < commentsEach; c++) {
      const comment = `${doc}_c${c}`;
      comments[doc].push(comment);
      inputs.push({ kind: 'COMMENT', id: comment, sessionId: session, documentId: doc, organizationId: ORG, ownerId: owner });
    }
  }
  await t.register(inputs);
  return { documents: docs, comments };
}

async function deletedAtOf(kind: string, id: string): Promise<string | null> {
  const answer = await t.gql(t.keys.admin, RESOURCE, { kind, id });
  return answer.body.data!.resource.deletedAt;
}

describe('deleteSession', () => {
  it('sends one DELETE for the session with the bearer key, and marks its documents and their comments', async () => {
    const { documents, comments } = await tree('sess_ok', 2, 3);
    const answer = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_ok' });
    const deletion = answer.body.data!.deleteSession;
    expect(deletion).toMatchObject({
      __typename: 'SessionDeletion',
      sessionId: 'sess_ok',
      documentsDeleted: 2,
      commentsDeleted: 6,
      deleted: true,
      deletedUpstream: true,
      alreadyDeleted: false,
      upstream: { kind: 'SESSION', resourceId: 'sess_ok', status: 'DELETED', attempts: 1, lastHttpStatus: 204, reason: null },
      auditEvent: { outcome: 'DELETED', action: 'session.delete', resourceId: 'sess_ok', details: { documentsDeleted: 2, commentsDeleted: 6 } },
    });
    const calls = callsUnder('sess_ok');
    expect(calls.map((c) => c.path)).toEqual([sessionPath('sess_ok')]);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.scriptixApiKey}`);
    expect(calls[0]!.headers['x-api-key']).toBeUndefined();

    // The children carry the session's deletion time, and the session's provider deletion covers them.
    const comment = comments[documents[1]!]![2]!;
    const child = await t.gql(t.keys.member, RESOURCE, { kind: 'COMMENT', id: comment });
    expect(child.body.data!.resource).toEqual({ deletedAt: deletion.deletedAt, upstream: { kind: 'SESSION', resourceId: 'sess_ok', status: 'DELETED' } });
    expect(await deletedAtOf('DOCUMENT', documents[0]!)).toBe(deletion.deletedAt);
  });

  it('replays with alreadyDeleted, the original deletedAt and no second provider call', async () => {
    await tree('sess_replay', 1, 1);
    const first = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_replay' });
    const again = await t.gql(t.keys.admin, DELETE_SESSION, { sessionId: 'sess_replay' });
    expect(again.body.data!.deleteSession).toMatchObject({
      __typename: 'SessionDeletion',
      alreadyDeleted: true,
      deletedAt: first.body.data!.deleteSession.deletedAt,
      deletedUpstream: true,
      documentsDeleted: 0,
      commentsDeleted: 0,
      upstream: { status: 'DELETED', attempts: 1 },
      auditEvent: { outcome: 'ALREADY_DELETED' },
    });
    expect(deletesTo(t.simulators.scriptix, sessionPath('sess_replay'))).toHaveLength(1);
  });

  it("counts Scriptix's own 404 (a JSON object) as deleted", async () => {
    await tree('sess_gone', 0, 0);
    t.simulators.scriptix.markMissing(sessionPath('sess_gone'));
    const gone = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_gone' });
    expect(gone.body.data!.deleteSession).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 } });
  });

  // A proxy's page or a wrong base URL must never read as a completed deletion.
  it.each([404, 200])('reads an HTML page answering %i as FAILED UNRECOGNIZED_RESPONSE', async (status) => {
    const session = `sess_html${status}`;
    await tree(session, 0, 0);
    t.simulators.scriptix.pushFault({ status, body: '<html><body>Not what you asked</body></html>', contentType: 'text/html', path: sessionPath(session) });
    const answer = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: session });
    expect(answer.body.data!.deleteSession).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      upstream: { status: 'FAILED', reason: 'UNRECOGNIZED_RESPONSE', lastHttpStatus: status },
    });
  });

  it('makes exactly one provider call for 10 concurrent deletes of one session', async () => {
    await tree('sess_race', 2, 1);
    const answers = await Promise.all(Array.from({ length: 10 }, () => t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_race' })));
    const deletions = answers.map((a) => a.body.data!.deleteSession);
    expect(deletions.map((d) => d.__typename)).toEqual(Array(10).fill('SessionDeletion'));
    const first = deletions.filter((d) => !d.alreadyDeleted);
    expect(first).toHaveLength(1);
    expect(first[0]).toMatchObject({ documentsDeleted: 2, commentsDeleted: 2 });
    expect(callsUnder('sess_race')).toHaveLength(1);
  });

  it('reads Scriptix\'s 400 "already marked as removed" for a session as DELETED', async () => {
    await tree('sess_removed', 0, 0);
    // Removed at Scriptix before the gateway knew: Scriptix soft-deletes sessions and answers 400 after.
    t.simulators.scriptix.markDeleted(sessionPath('sess_removed'));
    const answer = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_removed' });
    expect(answer.body.data!.deleteSession).toMatchObject({
      deleted: true,
      deletedUpstream: true,
      upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 400 },
    });
    expect(deletesTo(t.simulators.scriptix, sessionPath('sess_removed'))).toHaveLength(1);
  });

  it('keeps the provider deletion PENDING on 503, deleted here at once', async () => {
    await tree('sess_busy', 1, 0);
    t.simulators.scriptix.pushFault({ status: 503, retryAfter: '30', path: sessionPath('sess_busy') });
    const answer = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_busy' });
    expect(answer.body.data!.deleteSession).toMatchObject({
      deleted: true,
      deletedUpstream: false,
      documentsDeleted: 1,
      upstream: { status: 'PENDING', reason: 'PROVIDER_UNAVAILABLE', lastHttpStatus: 503 },
    });
    expect(await deletedAtOf('DOCUMENT', 'sess_busy_d0')).toBe(answer.body.data!.deleteSession.deletedAt);
  });

  it('counts only rows it newly marks: a document deleted before, and its comments, are not counted again', async () => {
    const { documents, comments } = await tree('sess_partial', 3, 2);
    const doc = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_partial', documentId: documents[0] });
    expect(doc.body.data!.deleteDocument).toMatchObject({ commentsDeleted: 2, alreadyDeleted: false });
    const comment = comments[documents[1]!]![0]!;
    await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_partial', documentId: documents[1], commentId: comment });

    const session = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_partial' });
    expect(session.body.data!.deleteSession).toMatchObject({ documentsDeleted: 2, commentsDeleted: 3, alreadyDeleted: false });
    // The document deleted first keeps its own time and its own provider deletion.
    expect(await deletedAtOf('DOCUMENT', documents[0]!)).toBe(doc.body.data!.deleteDocument.deletedAt);
    expect(callsUnder('sess_partial').map((c) => c.path)).toEqual([
      documentPath('sess_partial', documents[0]!),
      commentPath('sess_partial', documents[1]!, comment),
      sessionPath('sess_partial'),
    ]);
  });

  it("answers NotFoundError for another organisation's session and for an unknown one, and calls nobody", async () => {
    await t.register([{ kind: 'SESSION', id: 'sess_theirs', organizationId: OTHER_ORG, ownerId: 'olga' }]);
    for (const sessionId of ['sess_theirs', 'sess_never_registered']) {
      const answer = await t.gql(t.keys.admin, DELETE_SESSION, { sessionId });
      expect(answer.body.data!.deleteSession).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND', status: 404 });
      expect(callsUnder(sessionId)).toHaveLength(0);
    }
  });

  it('rejects a malformed session id with ValidationError before any provider call', async () => {
    const before = t.simulators.scriptix.requests.length;
    const answer = await t.gql(t.keys.admin, DELETE_SESSION, { sessionId: '../sess_ok' });
    expect(answer.body.data!.deleteSession).toMatchObject({ __typename: 'ValidationError', field: 'sessionId', status: 400 });
    expect(t.simulators.scriptix.requests.length).toBe(before);
  });
});

describe('deleteDocument', () => {
  it('sends one DELETE for the document and marks its comments', async () => {
    const { documents } = await tree('sess_doc', 2, 2);
    t.simulators.scriptix.setSuccessStatus(200);
    try {
      const answer = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_doc', documentId: documents[0] });
      expect(answer.body.data!.deleteDocument).toMatchObject({
        __typename: 'DocumentDeletion',
        sessionId: 'sess_doc',
        documentId: documents[0],
        commentsDeleted: 2,
        deletedUpstream: true,
        alreadyDeleted: false,
        upstream: { kind: 'DOCUMENT', status: 'DELETED', lastHttpStatus: 200 },
        auditEvent: { outcome: 'DELETED', action: 'document.delete', details: { commentsDeleted: 2 } },
      });
    } finally {
      t.simulators.scriptix.setSuccessStatus(204);
    }
    const calls = callsUnder('sess_doc');
    expect(calls.map((c) => c.path)).toEqual([documentPath('sess_doc', documents[0]!)]);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.scriptixApiKey}`);
    // The other document and its comments are untouched.
    expect(await deletedAtOf('DOCUMENT', documents[1]!)).toBeNull();
    expect(await deletedAtOf('COMMENT', `${documents[1]}_c0`)).toBeNull();

    const again = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_doc', documentId: documents[0] });
    expect(again.body.data!.deleteDocument).toMatchObject({ alreadyDeleted: true, commentsDeleted: 0, deletedUpstream: true });
    expect(callsUnder('sess_doc')).toHaveLength(1);
  });

  it("counts Scriptix's own 404 as deleted and keeps 503 PENDING", async () => {
    const { documents } = await tree('sess_doc404', 2, 0);
    t.simulators.scriptix.markMissing(documentPath('sess_doc404', documents[0]!));
    const gone = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_doc404', documentId: documents[0] });
    expect(gone.body.data!.deleteDocument).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 } });

    t.simulators.scriptix.pushFault({ status: 503, path: documentPath('sess_doc404', documents[1]!) });
    const busy = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_doc404', documentId: documents[1] });
    expect(busy.body.data!.deleteDocument).toMatchObject({ deleted: true, deletedUpstream: false, upstream: { status: 'PENDING', lastHttpStatus: 503 } });
  });

  it('answers NotFoundError for a document named with another session, and calls nobody', async () => {
    const { documents } = await tree('sess_home', 1, 0);
    await tree('sess_elsewhere', 0, 0);
    const answer = await t.gql(t.keys.admin, DELETE_DOCUMENT, { sessionId: 'sess_elsewhere', documentId: documents[0] });
    expect(answer.body.data!.deleteDocument).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    expect(callsUnder('sess_home')).toHaveLength(0);
    expect(callsUnder('sess_elsewhere')).toHaveLength(0);
    expect(await deletedAtOf('DOCUMENT', documents[0]!)).toBeNull();
  });

  it('answers alreadyDeleted for a document of a deleted session, with the session\'s time and no provider call', async () => {
    const { documents } = await tree('sess_parent_gone', 1, 1);
    const session = await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_parent_gone' });
    const answer = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_parent_gone', documentId: documents[0] });
    expect(answer.body.data!.deleteDocument).toMatchObject({
      __typename: 'DocumentDeletion',
      alreadyDeleted: true,
      deletedAt: session.body.data!.deleteSession.deletedAt,
      deletedUpstream: true,
      commentsDeleted: 0,
      upstream: { kind: 'SESSION', resourceId: 'sess_parent_gone', status: 'DELETED' },
      auditEvent: { outcome: 'ALREADY_DELETED' },
    });
    expect(callsUnder('sess_parent_gone').map((c) => c.path)).toEqual([sessionPath('sess_parent_gone')]);
  });

  it('shows deletedUpstream false on a cascade replay while the session deletion is still PENDING', async () => {
    const { documents } = await tree('sess_pending_parent', 1, 0);
    t.simulators.scriptix.pushFault({ status: 503, path: sessionPath('sess_pending_parent') });
    await t.gql(t.keys.member, DELETE_SESSION, { sessionId: 'sess_pending_parent' });
    const answer = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_pending_parent', documentId: documents[0] });
    expect(answer.body.data!.deleteDocument).toMatchObject({
      alreadyDeleted: true,
      deletedUpstream: false,
      upstream: { kind: 'SESSION', status: 'PENDING' },
    });
  });
});

describe('deleteComment', () => {
  it('sends one DELETE for the comment with the bearer key', async () => {
    const { documents, comments } = await tree('sess_cmt', 1, 2);
    const doc = documents[0]!;
    const [comment, other] = comments[doc]!;
    const answer = await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_cmt', documentId: doc, commentId: comment });
    expect(answer.body.data!.deleteComment).toMatchObject({
      __typename: 'CommentDeletion',
      sessionId: 'sess_cmt',
      documentId: doc,
      commentId: comment,
      deletedUpstream: true,
      alreadyDeleted: false,
      upstream: { kind: 'COMMENT', status: 'DELETED', lastHttpStatus: 204 },
      auditEvent: { outcome: 'DELETED', action: 'comment.delete' },
    });
    const calls = callsUnder('sess_cmt');
    expect(calls.map((c) => c.path)).toEqual([commentPath('sess_cmt', doc, comment!)]);
    expect(calls[0]!.headers.authorization).toBe(`Bearer ${TEST_CREDENTIALS.scriptixApiKey}`);
    expect(await deletedAtOf('COMMENT', other!)).toBeNull();
    expect(await deletedAtOf('DOCUMENT', doc)).toBeNull();

    const again = await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_cmt', documentId: doc, commentId: comment });
    expect(again.body.data!.deleteComment).toMatchObject({ alreadyDeleted: true, deletedUpstream: true });
    expect(callsUnder('sess_cmt')).toHaveLength(1);
  });

  it("counts Scriptix's own 404 as deleted and keeps 503 PENDING", async () => {
    const { documents, comments } = await tree('sess_cmt404', 1, 2);
    const doc = documents[0]!;
    const [gone, busy] = comments[doc]!;
    t.simulators.scriptix.markMissing(commentPath('sess_cmt404', doc, gone!));
    const first = await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_cmt404', documentId: doc, commentId: gone });
    expect(first.body.data!.deleteComment).toMatchObject({ deletedUpstream: true, upstream: { status: 'DELETED', reason: 'ALREADY_ABSENT', lastHttpStatus: 404 } });
    t.simulators.scriptix.pushFault({ status: 503, path: commentPath('sess_cmt404', doc, busy!) });
    const second = await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_cmt404', documentId: doc, commentId: busy });
    expect(second.body.data!.deleteComment).toMatchObject({ deleted: true, deletedUpstream: false, upstream: { status: 'PENDING', lastHttpStatus: 503 } });
  });

  it('answers NotFoundError for a comment named with another document or another session, and calls nobody', async () => {
    const { documents, comments } = await tree('sess_cmt_home', 2, 1);
    await tree('sess_cmt_elsewhere', 0, 0);
    const comment = comments[documents[0]!]![0]!;
    for (const [sessionId, documentId] of [
      ['sess_cmt_home', documents[1]!],
      ['sess_cmt_elsewhere', documents[0]!],
    ]) {
      const answer = await t.gql(t.keys.admin, DELETE_COMMENT, { sessionId, documentId, commentId: comment });
      expect(answer.body.data!.deleteComment).toMatchObject({ __typename: 'NotFoundError', code: 'NOT_FOUND' });
    }
    expect(callsUnder('sess_cmt_home')).toHaveLength(0);
    expect(callsUnder('sess_cmt_elsewhere')).toHaveLength(0);
    expect(await deletedAtOf('COMMENT', comment)).toBeNull();
  });

  it("answers alreadyDeleted for a comment of a deleted document, with the document's time and no provider call", async () => {
    const { documents, comments } = await tree('sess_cmt_parent', 1, 1);
    const doc = documents[0]!;
    const deleted = await t.gql(t.keys.member, DELETE_DOCUMENT, { sessionId: 'sess_cmt_parent', documentId: doc });
    const answer = await t.gql(t.keys.member, DELETE_COMMENT, { sessionId: 'sess_cmt_parent', documentId: doc, commentId: comments[doc]![0] });
    expect(answer.body.data!.deleteComment).toMatchObject({
      alreadyDeleted: true,
      deletedAt: deleted.body.data!.deleteDocument.deletedAt,
      deletedUpstream: true,
      upstream: { kind: 'DOCUMENT', resourceId: doc, status: 'DELETED' },
    });
    expect(callsUnder('sess_cmt_parent').map((c) => c.path)).toEqual([documentPath('sess_cmt_parent', doc)]);
  });

  it("lets the document's owner delete someone else's comment, but not another member", async () => {
    await t.register([
      { kind: 'SESSION', id: 'sess_cmt_owners', organizationId: ORG, ownerId: 'alice' },
      { kind: 'DOCUMENT', id: 'doc_cmt_owners', sessionId: 'sess_cmt_owners', organizationId: ORG, ownerId: 'bob' },
      { kind: 'COMMENT', id: 'cmt_by_victor', sessionId: 'sess_cmt_owners', documentId: 'doc_cmt_owners', organizationId: ORG, ownerId: 'victor' },
    ]);
    const args = { sessionId: 'sess_cmt_owners', documentId: 'doc_cmt_owners', commentId: 'cmt_by_victor' };
    const stranger = await t.gql(t.keys.member2, DELETE_COMMENT, args);
    expect(stranger.body.data!.deleteComment).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS', status: 403 });
    expect(callsUnder('sess_cmt_owners')).toHaveLength(0);
    const owner = await t.gql(t.keys.member, DELETE_COMMENT, args);
    expect(owner.body.data!.deleteComment).toMatchObject({ __typename: 'CommentDeletion', deletedUpstream: true });
  });
});
