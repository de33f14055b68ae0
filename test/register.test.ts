import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResourceInputValue } from '../src/catalog/register.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';
import { runGateway } from './support/cli.ts';

const REGISTER = `mutation($r: [ResourceInput!]!) {
  registerResources(resources: $r) {
    __typename
    ... on RegisterResourcesPayload { registered }
    ... on Error { code message systemMessage status details }
    ... on ValidationError { field }
  }
}`;

const RESOURCE = `query($kind: ResourceKind!, $id: ID!) {
  resource(kind: $kind, id: $id) { kind id provider organizationId ownerId sessionId documentId status attributes deletedAt }
}`;

let t: TestGateway;
let dir: string;

beforeAll(async () => {
  t = await startTestGateway();
  dir = mkdtempSync(join(tmpdir(), 'gateway-import-'));
});
afterAll(async () => {
  await t?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

type Input = Record<string, unknown>;
const transcription = (id: string, extra: Input = {}): ResourceInputValue => ({
  kind: 'TRANSCRIPTION',
  id,
  provider: 'AITRONOS_AUDIO',
  organizationId: ORG,
  ownerId: 'bob',
  ...extra,
});

async function register(key: string, resources: object[]) {
  const answer = await t.gql(key, REGISTER, { r: resources });
  expect(answer.body.errors).toBeUndefined();
  return answer.body.data!.registerResources;
}

async function resource(key: string, kind: string, id: string) {
  const answer = await t.gql(key, RESOURCE, { kind, id });
  expect(answer.body.errors).toBeUndefined();
  return answer.body.data!.resource;
}

describe('registerResources: who may', () => {
  it('refuses a member and a viewer with PermissionDeniedError and registers nothing', async () => {
    for (const key of [t.keys.member, t.keys.viewer]) {
      expect(await register(key, [transcription('trans_bymember')])).toMatchObject({
        __typename: 'PermissionDeniedError',
        code: 'INSUFFICIENT_PERMISSIONS',
        status: 403,
      });
    }
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_bymember')).toBeNull();
  });

  it("refuses an admin registering into another organisation, and keeps the batch's other rows out too", async () => {
    const answer = await register(t.keys.admin, [transcription('trans_mine1'), transcription('trans_theirs1', { organizationId: OTHER_ORG })]);
    expect(answer).toMatchObject({ __typename: 'PermissionDeniedError', code: 'INSUFFICIENT_PERMISSIONS' });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_mine1')).toBeNull();
    expect(await resource(t.keys.otherAdmin, 'TRANSCRIPTION', 'trans_theirs1')).toBeNull();
  });
});

describe('registerResources: what it stores', () => {
  it('registers every kind, then updates owner, status and attributes on a second call (upsert)', async () => {
    const batchJobId = crypto.randomUUID();
    const first = await register(t.keys.admin, [
      transcription('trans_up1'),
      { kind: 'TRANSCRIPTION', id: 'revup1', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob', status: 'in_progress' },
      { kind: 'SESSION', id: 'sess_up1', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'doc_up1', sessionId: 'sess_up1', organizationId: ORG, ownerId: 'bob' },
      { kind: 'COMMENT', id: 'cmt_up1', sessionId: 'sess_up1', documentId: 'doc_up1', organizationId: ORG, ownerId: 'carol' },
      { kind: 'TRACK', id: 'mtrack_up1', organizationId: ORG, ownerId: 'alice' },
      { kind: 'BATCH_JOB', id: batchJobId, organizationId: ORG, ownerId: 'bob' },
    ]);
    expect(first).toEqual({ __typename: 'RegisterResourcesPayload', registered: 7 });
    expect(await resource(t.keys.viewer, 'COMMENT', 'cmt_up1')).toMatchObject({
      provider: 'SCRIPTIX',
      organizationId: ORG,
      sessionId: 'sess_up1',
      documentId: 'doc_up1',
      ownerId: 'carol',
      deletedAt: null,
    });
    expect(await resource(t.keys.viewer, 'BATCH_JOB', batchJobId)).toMatchObject({ provider: 'DAILY' });
    expect(await resource(t.keys.viewer, 'TRACK', 'mtrack_up1')).toMatchObject({ provider: 'AITRONOS_MUSIC' });

    const second = await register(t.keys.admin, [
      { kind: 'TRANSCRIPTION', id: 'revup1', provider: 'REV_AI', organizationId: ORG, ownerId: 'carol', status: 'transcribed', attributes: { name: 'call' } },
    ]);
    expect(second).toEqual({ __typename: 'RegisterResourcesPayload', registered: 1 });
    expect(await resource(t.keys.viewer, 'TRANSCRIPTION', 'revup1')).toMatchObject({
      provider: 'REV_AI',
      ownerId: 'carol',
      status: 'transcribed',
      attributes: { name: 'call' },
    });
  });

  it('takes 1000 resources in one call, and refuses 1001 with ValidationError field "resources"', async () => {
    const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => transcription(`${prefix}${i}`));
    expect(await register(t.keys.admin, many(1001, 'trans_over'))).toMatchObject({ __typename: 'ValidationError', field: 'resources', status: 400 });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_over0')).toBeNull();
    expect(await register(t.keys.admin, many(1000, 'trans_bulk'))).toEqual({ __typename: 'RegisterResourcesPayload', registered: 1000 });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_bulk999')).toMatchObject({ id: 'trans_bulk999' });
  });
});

describe('registerResources: validation', () => {
  it.each([
    ['a TRANSCRIPTION without provider', transcription('trans_noprov', { provider: null }), 'provider'],
    ['a TRANSCRIPTION at Scriptix', transcription('trans_wrongprov', { provider: 'SCRIPTIX' }), 'provider'],
    ['a TRACK at Daily', { kind: 'TRACK', id: 'mtrack_wrongprov', provider: 'DAILY', organizationId: ORG, ownerId: 'bob' }, 'provider'],
    ['an id with a slash', transcription('trans_a/b'), 'id'],
    ['an id with dots', transcription('../x'), 'id'],
    ['an empty id', transcription(''), 'id'],
    ['an id of 129 characters', transcription(`trans_${'x'.repeat(123)}`), 'id'],
    ['an Aitronos audio id without trans_', transcription('job123'), 'id'],
    ['a track id without mtrack_', { kind: 'TRACK', id: 'track1', organizationId: ORG, ownerId: 'bob' }, 'id'],
    ['a document without its session', { kind: 'DOCUMENT', id: 'doc_orphan', organizationId: ORG, ownerId: 'bob' }, 'sessionId'],
    ['a document of an unregistered session', { kind: 'DOCUMENT', id: 'doc_orphan2', sessionId: 'sess_nowhere', organizationId: ORG, ownerId: 'bob' }, 'sessionId'],
    ['a comment without its document', { kind: 'COMMENT', id: 'cmt_orphan', sessionId: 'sess_up1', organizationId: ORG, ownerId: 'bob' }, 'documentId'],
  ])('refuses %s with ValidationError field %j, after registering nothing', async (_name, input, field) => {
    const answer = await register(t.keys.admin, [transcription('trans_bystander'), input]);
    expect(answer).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_ERROR', status: 400, field, details: { index: 1 } });
    expect(answer.message).toContain(`resources[1].${field}`);
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_bystander')).toBeNull();
  });

  it("refuses a comment whose document is in another session (parents must agree)", async () => {
    await register(t.keys.admin, [
      { kind: 'SESSION', id: 'sess_p1', organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'sess_p2', organizationId: ORG, ownerId: 'bob' },
      { kind: 'DOCUMENT', id: 'doc_p1', sessionId: 'sess_p1', organizationId: ORG, ownerId: 'bob' },
    ]);
    const answer = await register(t.keys.admin, [{ kind: 'COMMENT', id: 'cmt_p', sessionId: 'sess_p2', documentId: 'doc_p1', organizationId: ORG, ownerId: 'bob' }]);
    expect(answer).toMatchObject({ __typename: 'ValidationError', field: 'documentId' });
    expect(await resource(t.keys.admin, 'COMMENT', 'cmt_p')).toBeNull();
  });

  it('refuses an id another organisation holds, names no organisation, and leaves the row where it was', async () => {
    await t.register([transcription('trans_held', { organizationId: OTHER_ORG, ownerId: 'olga' })]);
    const answer = await register(t.keys.admin, [transcription('trans_fresh1'), transcription('trans_held', { ownerId: 'alice' })]);
    expect(answer).toMatchObject({ __typename: 'ValidationError', code: 'VALIDATION_ERROR', field: 'id', details: { index: 1 } });
    const text = JSON.stringify(answer);
    for (const org of [ORG, OTHER_ORG, 'org_']) expect(text).not.toContain(org);
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_held')).toBeNull();
    expect(await resource(t.keys.otherAdmin, 'TRANSCRIPTION', 'trans_held')).toMatchObject({ organizationId: OTHER_ORG, ownerId: 'olga' });
    // All or nothing: the valid row before it was not kept either.
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_fresh1')).toBeNull();
  });

  it('changes nothing when a later row of an upsert batch is bad', async () => {
    await register(t.keys.admin, [transcription('trans_keep', { ownerId: 'bob', status: 'old' })]);
    const answer = await register(t.keys.admin, [
      transcription('trans_keep', { ownerId: 'carol', status: 'new' }),
      transcription('trans_new2'),
      transcription('trans_keep2', { provider: 'REV_AI', id: 'has space' }),
    ]);
    expect(answer).toMatchObject({ __typename: 'ValidationError', field: 'id', details: { index: 2 } });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_keep')).toMatchObject({ ownerId: 'bob', status: 'old' });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_new2')).toBeNull();
  });
});

describe('resource(kind, id)', () => {
  it("answers null for another organisation's resource, and for none at all", async () => {
    await t.register([transcription('trans_orgb', { organizationId: OTHER_ORG, ownerId: 'olga' })]);
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_orgb')).toBeNull();
    expect(await resource(t.keys.otherMember, 'TRANSCRIPTION', 'trans_orgb')).toMatchObject({ id: 'trans_orgb', organizationId: OTHER_ORG });
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_nowhere')).toBeNull();
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', '../etc')).toBeNull();
  });
});

describe('gateway resources import FILE.ndjson', () => {
  const env = () => ({ ...t.database.env, SANDBOX: '0', LOG_LEVEL: 'silent' });
  const ndjson = (lines: (object | string)[]) => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');

  it('registers every line, across organisations, and reports the count', async () => {
    const file = join(dir, 'good.ndjson');
    writeFileSync(
      file,
      ndjson([
        transcription('trans_imp1'),
        '',
        { kind: 'SESSION', id: 'sess_imp1', organizationId: OTHER_ORG, ownerId: 'olga' },
        { kind: 'DOCUMENT', id: 'doc_imp1', sessionId: 'sess_imp1', organizationId: OTHER_ORG, ownerId: 'oscar' },
      ]),
    );
    const result = await runGateway(['resources', 'import', file], env());
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('registered 3 resources');
    expect(await resource(t.keys.admin, 'TRANSCRIPTION', 'trans_imp1')).toMatchObject({ ownerId: 'bob' });
    expect(await resource(t.keys.otherMember, 'DOCUMENT', 'doc_imp1')).toMatchObject({ sessionId: 'sess_imp1', ownerId: 'oscar' });
  });

  it('names the line of a bad resource or of broken JSON, exits non-zero and registers nothing', async () => {
    const badResource = join(dir, 'bad-resource.ndjson');
    writeFileSync(badResource, ndjson([transcription('trans_imp2'), transcription('trans_imp3'), '', transcription('trans_imp4', { provider: 'DAILY' })]));
    const badJson = join(dir, 'bad-json.ndjson');
    writeFileSync(badJson, ndjson([transcription('trans_imp5'), '{"kind": "TRANSCRIPTION",']));
    const [resourceResult, jsonResult, missing] = await Promise.all([
      runGateway(['resources', 'import', badResource], env()),
      runGateway(['resources', 'import', badJson], env()),
      runGateway(['resources', 'import', join(dir, 'absent.ndjson')], env()),
    ]);
    expect(resourceResult.code).not.toBe(0);
    expect(resourceResult.stderr).toMatch(/line 4\b/);
    expect(resourceResult.stderr).toMatch(/line 4: provider: TRANSCRIPTION is held by AITRONOS_AUDIO or REV_AI, not DAILY/);
    // A data problem, not a usage one: the operator needs the line, not the manual.
    expect(resourceResult.stderr).not.toContain('Usage:');
    expect(jsonResult.code).not.toBe(0);
    expect(jsonResult.stderr).toMatch(/line 2: not valid JSON/);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('absent.ndjson');
    for (const id of ['trans_imp2', 'trans_imp3', 'trans_imp4', 'trans_imp5']) expect(await resource(t.keys.admin, 'TRANSCRIPTION', id)).toBeNull();
  });
});
