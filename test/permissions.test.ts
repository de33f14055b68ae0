// Who may delete what, as a user sees it: every kind against every kind of caller, through the API.
// The expected table is written out by hand from PRODUCT.md "Permissions", not derived from the
// policy module, so a wrong rule in src/deletion/policy.ts shows up here as a wrong cell.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import type { ResourceKind } from '../src/domain.ts';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

/** The kind's Deletion payload: the caller may delete it. */
const OK = 'deleted';
const DENIED = 'PermissionDeniedError';
const NOT_FOUND = 'NotFoundError';
type Verdict = typeof OK | typeof DENIED | typeof NOT_FOUND;

/**
 * The callers (columns). Unless a column says otherwise, the resource and its Scriptix parents
 * belong to org_a and were created by bob (a member).
 */
type Caller = 'admin' | 'adminOwner' | 'owner' | 'nonOwnerMember' | 'viewerOwner' | 'otherOrganisation';
const CALLERS: Record<Caller, { key: 'admin' | 'member' | 'member2' | 'viewer' | 'otherAdmin'; ownerId: string; what: string }> = {
  admin: { key: 'admin', ownerId: 'bob', what: "admin alice, bob's resource" },
  adminOwner: { key: 'admin', ownerId: 'alice', what: 'admin alice, her own resource' },
  owner: { key: 'member', ownerId: 'bob', what: 'member bob, his own resource' },
  nonOwnerMember: { key: 'member2', ownerId: 'bob', what: "member carol, bob's resource" },
  viewerOwner: { key: 'viewer', ownerId: 'victor', what: 'viewer victor, his own resource' },
  otherOrganisation: { key: 'otherAdmin', ownerId: 'bob', what: "org_b's admin olga, org_a's resource" },
};

const EXPECTED: Record<ResourceKind, Record<Caller, Verdict>> = {
  //              admin      adminOwner  owner  nonOwnerMember  viewerOwner  otherOrganisation
  TRANSCRIPTION: { admin: OK, adminOwner: OK, owner: OK, nonOwnerMember: OK, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
  SESSION: { admin: OK, adminOwner: OK, owner: OK, nonOwnerMember: DENIED, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
  DOCUMENT: { admin: OK, adminOwner: OK, owner: OK, nonOwnerMember: DENIED, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
  COMMENT: { admin: OK, adminOwner: OK, owner: OK, nonOwnerMember: DENIED, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
  TRACK: { admin: DENIED, adminOwner: OK, owner: OK, nonOwnerMember: DENIED, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
  BATCH_JOB: { admin: OK, adminOwner: OK, owner: OK, nonOwnerMember: OK, viewerOwner: DENIED, otherOrganisation: NOT_FOUND },
};

/** Scriptix parents: owning the session or document, but not the resource itself. */
const PARENT_CASES: { name: string; kind: 'DOCUMENT' | 'COMMENT'; key: 'member2' | 'viewer'; sessionOwner: string; documentOwner: string; expected: Verdict }[] = [
  { name: "the session's owner, someone else's document", kind: 'DOCUMENT', key: 'member2', sessionOwner: 'carol', documentOwner: 'bob', expected: DENIED },
  { name: "the document's owner, someone else's comment", kind: 'COMMENT', key: 'member2', sessionOwner: 'bob', documentOwner: 'carol', expected: OK },
  { name: "the session's owner, someone else's comment", kind: 'COMMENT', key: 'member2', sessionOwner: 'carol', documentOwner: 'bob', expected: OK },
  { name: "a viewer owning the document, someone else's comment", kind: 'COMMENT', key: 'viewer', sessionOwner: 'victor', documentOwner: 'victor', expected: DENIED },
];

const MUTATIONS: Record<ResourceKind, { payload: string; query: string }> = {
  TRANSCRIPTION: { payload: 'TranscriptionDeletion', query: 'mutation($id: ID!) { result: deleteTranscription(transcriptionId: $id) { __typename } }' },
  SESSION: { payload: 'SessionDeletion', query: 'mutation($session: ID!) { result: deleteSession(sessionId: $session) { __typename } }' },
  DOCUMENT: {
    payload: 'DocumentDeletion',
    query: 'mutation($session: ID!, $id: ID!) { result: deleteDocument(sessionId: $session, documentId: $id) { __typename } }',
  },
  COMMENT: {
    payload: 'CommentDeletion',
    query: 'mutation($session: ID!, $document: ID!, $id: ID!) { result: deleteComment(sessionId: $session, documentId: $document, commentId: $id) { __typename } }',
  },
  TRACK: { payload: 'TrackDeletion', query: 'mutation($org: ID!, $id: ID!) { result: deleteTrack(organizationId: $org, trackId: $id) { __typename } }' },
  BATCH_JOB: { payload: 'BatchJobDeletion', query: 'mutation($id: ID!) { result: deleteBatchJob(batchJobId: $id) { __typename } }' },
};

let t: TestGateway;

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  await t?.close();
});

/** Registers one fresh resource of `kind` (with its Scriptix parents) and returns the mutation's variables. */
async function fixture(kind: ResourceKind, name: string, owners: { ownerId: string; sessionOwner: string; documentOwner: string }): Promise<Record<string, string>> {
  const org = { organizationId: ORG };
  const session = `sess_${name}`;
  const document = `doc_${name}`;
  const inputs: ResourceInputValue[] = [];
  if (kind === 'SESSION' || kind === 'DOCUMENT' || kind === 'COMMENT') {
    inputs.push({ kind: 'SESSION', id: session, ...org, ownerId: kind === 'SESSION' ? owners.ownerId : owners.sessionOwner });
  }
  if (kind === 'DOCUMENT' || kind === 'COMMENT') {
    inputs.push({ kind: 'DOCUMENT', id: document, sessionId: session, ...org, ownerId: kind === 'DOCUMENT' ? owners.ownerId : owners.documentOwner });
  }
  switch (kind) {
    case 'TRANSCRIPTION':
      inputs.push({ kind, id: `trans_${name}`, provider: 'AITRONOS_AUDIO', ...org, ownerId: owners.ownerId });
      await t.register(inputs);
      return { id: `trans_${name}` };
    case 'SESSION':
      await t.register(inputs);
      return { session };
    case 'DOCUMENT':
      await t.register(inputs);
      return { session, id: document };
    case 'COMMENT':
      inputs.push({ kind, id: `cmt_${name}`, sessionId: session, documentId: document, ...org, ownerId: owners.ownerId });
      await t.register(inputs);
      return { session, document, id: `cmt_${name}` };
    case 'TRACK':
      inputs.push({ kind, id: `mtrack_${name}`, ...org, ownerId: owners.ownerId });
      await t.register(inputs);
      return { org: ORG, id: `mtrack_${name}` };
    case 'BATCH_JOB':
      inputs.push({ kind, id: `job_${name}`, ...org, ownerId: owners.ownerId });
      await t.register(inputs);
      return { id: `job_${name}` };
  }
}

function providerRequests(): number {
  const { aitronos, revai, scriptix, daily } = t.simulators;
  return aitronos.requests.length + revai.requests.length + scriptix.requests.length + daily.requests.length;
}

/** Runs one delete; checks that only an allowed delete reaches a provider (exactly once). */
async function attempt(kind: ResourceKind, key: string, variables: Record<string, string>): Promise<Verdict> {
  const before = providerRequests();
  const answer = await t.gql(key, MUTATIONS[kind].query, variables);
  const typename: string = answer.body.data!.result.__typename;
  const verdict: Verdict = typename === MUTATIONS[kind].payload ? OK : (typename as Verdict);
  expect(providerRequests() - before, `${kind} ${typename}: provider calls`).toBe(verdict === OK ? 1 : 0);
  return verdict;
}

describe('who may delete what', () => {
  it('matches the hand-written matrix for every kind and caller', async () => {
    const actual = {} as Record<ResourceKind, Record<Caller, Verdict>>;
    for (const kind of Object.keys(EXPECTED) as ResourceKind[]) {
      actual[kind] = {} as Record<Caller, Verdict>;
      for (const caller of Object.keys(CALLERS) as Caller[]) {
        const { key, ownerId } = CALLERS[caller];
        const variables = await fixture(kind, `${kind.toLowerCase()}_${caller}`, { ownerId, sessionOwner: 'bob', documentOwner: 'bob' });
        actual[kind][caller] = await attempt(kind, t.keys[key], variables);
      }
    }
    expect(actual).toEqual(EXPECTED);
  });

  it.each(PARENT_CASES)('$kind: $name → $expected', async ({ kind, key, sessionOwner, documentOwner, expected, name }) => {
    const variables = await fixture(kind, `parent_${PARENT_CASES.findIndex((c) => c.name === name)}`, { ownerId: 'bob', sessionOwner, documentOwner });
    expect(await attempt(kind, t.keys[key], variables)).toBe(expected);
  });

  it("also hides another organisation's resources from its members, not only its admins", async () => {
    for (const kind of Object.keys(EXPECTED) as ResourceKind[]) {
      const variables = await fixture(kind, `${kind.toLowerCase()}_othermember`, { ownerId: 'bob', sessionOwner: 'bob', documentOwner: 'bob' });
      expect(await attempt(kind, t.keys.otherMember, variables), kind).toBe(NOT_FOUND);
    }
  });
});
