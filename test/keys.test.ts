import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, TEST_CREDENTIALS, startTestGateway, type GraphQLResponse, type TestGateway } from './support/harness.ts';
import { runGateway } from './support/cli.ts';

const VIEWER = '{ viewer { principalId organizationId userId role } }';

let t: TestGateway;
let cliEnv: Record<string, string>;

beforeAll(async () => {
  t = await startTestGateway();
  // The CLI works on the very database the running gateway serves, as an operator's would.
  cliEnv = { ...t.database.env, SANDBOX: '0', LOG_LEVEL: 'silent' };
});
afterAll(async () => {
  await t?.close();
});

function apiKeyRows(): Promise<Record<string, unknown>[]> {
  return t.sql('SELECT * FROM api_keys');
}

function expectUnauthenticated(answer: GraphQLResponse) {
  expect(answer.status).toBe(401);
  expect(answer.body.data ?? null).toBeNull();
  expect(answer.body.errors?.[0]?.extensions?.code).toBe('AUTHENTICATION_REQUIRED');
}

describe('gateway keys (CLI)', () => {
  let key: string;
  let keyId: string;

  it('keys create prints the key once, alone on the last line, and stores only its hash', async () => {
    const created = await runGateway(['keys', 'create', '--org', 'org_cli', '--user', 'dana', '--role', 'admin'], cliEnv);
    expect(created.code, created.stderr).toBe(0);
    const lines = created.stdout.trimEnd().split('\n');
    key = lines.at(-1)!;
    expect(key).toMatch(/^sdg_[A-Za-z0-9_-]{43}$/);
    expect(created.stdout.split(key)).toHaveLength(2);
    expect(created.stderr).not.toContain(key);

    const viewer = await t.gql(key, VIEWER);
    expect(viewer.status).toBe(200);
    expect(viewer.body.data!.viewer).toMatchObject({ organizationId: 'org_cli', userId: 'dana', role: 'ADMIN' });
    keyId = viewer.body.data!.viewer.principalId;
    expect(created.stdout).toContain(keyId);

    const rows = await apiKeyRows();
    for (const row of rows) for (const value of Object.values(row)) expect(String(value)).not.toContain(key);
    expect(rows.filter((row) => row.hash === createHash('sha256').update(key).digest('hex'))).toHaveLength(1);
    // Not in any page of the file either (a dropped column or a freed page would still hold it).
    if (t.dbPath) {
      for (const file of [t.dbPath, `${t.dbPath}-wal`]) {
        if (existsSync(file)) expect(readFileSync(file).includes(Buffer.from(key))).toBe(false);
      }
    }
  });

  it('keys list shows ids and prefixes but never a whole key', async () => {
    const listed = await runGateway(['keys', 'list'], cliEnv);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(keyId);
    expect(listed.stdout).toContain(key.slice(0, 8));
    for (const whole of [key, ...Object.values(t.keys)]) expect(listed.stdout).not.toContain(whole);
    // Every key of the database is listed: the six of the harness and the one made above.
    expect(listed.stdout.trimEnd().split('\n').filter((line) => /^key_/.test(line))).toHaveLength(7);
  });

  it('keys revoke ID makes the key answer 401 AUTHENTICATION_REQUIRED; a second revoke fails', async () => {
    const revoked = await runGateway(['keys', 'revoke', keyId], cliEnv);
    expect(revoked.code, revoked.stderr).toBe(0);
    expectUnauthenticated(await t.gql(key, VIEWER));
    expectUnauthenticated(await t.gql(null, VIEWER, {}, { 'x-api-key': key }));

    const again = await runGateway(['keys', 'revoke', keyId], cliEnv);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(keyId);
    expect((await apiKeyRows()).find((row) => row.id === keyId)).toMatchObject({ revoked_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('refuses a bad role or a missing flag with a message naming it, and creates no key', async () => {
    const before = (await apiKeyRows()).length;
    const [badRole, noUser, noRoleValue, noId] = await Promise.all([
      runGateway(['keys', 'create', '--org', 'org_cli', '--user', 'erin', '--role', 'boss'], cliEnv),
      runGateway(['keys', 'create', '--org', 'org_cli', '--role', 'member'], cliEnv),
      runGateway(['keys', 'create', '--org', 'org_cli', '--user', 'erin', '--role'], cliEnv),
      runGateway(['keys', 'revoke'], cliEnv),
    ]);
    expect(badRole.code).not.toBe(0);
    expect(badRole.stderr).toMatch(/role must be one of admin, member, viewer, got "boss"/);
    expect(noUser.code).not.toBe(0);
    expect(noUser.stderr).toMatch(/missing --user\b/);
    expect(noRoleValue.code).not.toBe(0);
    expect(noRoleValue.stderr).toMatch(/--role needs a value/);
    expect(noId.code).not.toBe(0);
    expect(noId.stderr).toMatch(/KEY_ID/);
    for (const result of [badRole, noUser, noRoleValue]) expect(result.stdout).not.toMatch(/sdg_/);
    expect(await apiKeyRows()).toHaveLength(before);
  });
});

describe('authentication through the API', () => {
  it('answers HTTP 401 AUTHENTICATION_REQUIRED without a key, and for an unknown or malformed one', async () => {
    const unknown = `sdg_${randomBytes(32).toString('base64url')}`;
    expectUnauthenticated(await t.gql(null, VIEWER));
    expectUnauthenticated(await t.gql(unknown, VIEWER));
    expectUnauthenticated(await t.gql('not-a-key', VIEWER));
    expectUnauthenticated(await t.gql(null, VIEWER, {}, { authorization: `Basic ${t.keys.admin}` }));
    expectUnauthenticated(await t.gql(null, VIEWER, {}, { 'x-api-key': unknown }));
  });

  it('accepts the key as X-API-Key as well as Authorization: Bearer', async () => {
    const viaHeader = await t.gql(null, VIEWER, {}, { 'x-api-key': t.keys.member });
    expect(viaHeader.status).toBe(200);
    expect(viaHeader.body.data!.viewer).toMatchObject({ userId: 'bob', role: 'MEMBER' });
    const both = await t.gql(t.keys.member, VIEWER, {}, { 'x-api-key': t.keys.member });
    expect(both.body.data!.viewer).toMatchObject({ userId: 'bob' });
  });

  it('refuses Authorization and X-API-Key naming different keys, even two valid ones', async () => {
    expectUnauthenticated(await t.gql(t.keys.admin, VIEWER, {}, { 'x-api-key': t.keys.member }));
  });

  it('serves introspection without a key, but nothing else alongside it', async () => {
    const introspection = await t.gql(null, '{ __schema { queryType { name } mutationType { name } } }');
    expect(introspection.status).toBe(200);
    expect(introspection.body.data).toEqual({ __schema: { queryType: { name: 'Query' }, mutationType: { name: 'Mutation' } } });
    expectUnauthenticated(await t.gql(null, '{ __schema { queryType { name } } viewer { userId } }'));
  });

  it('viewer names the key id, organisation, user and role of the caller, never the key', async () => {
    const answers = await Promise.all(
      (['admin', 'member', 'viewer', 'otherAdmin'] as const).map((role) => t.gql(t.keys[role], VIEWER)),
    );
    expect(answers.map((a) => a.body.data!.viewer)).toEqual([
      { principalId: expect.stringMatching(/^key_/), organizationId: ORG, userId: 'alice', role: 'ADMIN' },
      { principalId: expect.stringMatching(/^key_/), organizationId: ORG, userId: 'bob', role: 'MEMBER' },
      { principalId: expect.stringMatching(/^key_/), organizationId: ORG, userId: 'victor', role: 'VIEWER' },
      { principalId: expect.stringMatching(/^key_/), organizationId: 'org_b', userId: 'olga', role: 'ADMIN' },
    ]);
    expect(new Set(answers.map((a) => a.body.data!.viewer.principalId)).size).toBe(4);
  });
});

describe('secrets', () => {
  it('no API key or provider credential reaches the logs, an answer or the audit trail, even when providers fail', async () => {
    const batchJobId = crypto.randomUUID();
    await t.register([
      { kind: 'TRANSCRIPTION', id: 'trans_echo401', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'trans_ok', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRANSCRIPTION', id: 'revecho503', provider: 'REV_AI', organizationId: ORG, ownerId: 'bob' },
      { kind: 'SESSION', id: 'sess_echo403', organizationId: ORG, ownerId: 'bob' },
      { kind: 'TRACK', id: 'mtrack_echo401', organizationId: ORG, ownerId: 'bob' },
      { kind: 'BATCH_JOB', id: batchJobId, organizationId: ORG, ownerId: 'bob' },
    ]);
    const sims = t.simulators;
    // Providers that echo what they were sent: the gateway must not pass that on.
    sims.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'UNAUTHORIZED', status: 401, message: `bad token Bearer ${TEST_CREDENTIALS.aitronosApiKey}` } },
      path: '/v1/audio/transcribe/trans_echo401',
    });
    sims.aitronos.pushFault({
      status: 401,
      body: { success: false, error: { code: 'UNAUTHORIZED', status: 401, message: `bad X-API-Key ${TEST_CREDENTIALS.aitronosApiKey}` } },
      path: '/v1/music/',
    });
    sims.revai.pushFault({
      status: 503,
      body: `upstream down; request had Authorization: Bearer ${TEST_CREDENTIALS.revaiAccessToken}`,
      contentType: 'text/plain',
      retryAfter: '30',
      path: '/speechtotext/v1/jobs/revecho503',
    });
    sims.scriptix.pushFault({
      status: 403,
      body: { error: `key ${TEST_CREDENTIALS.scriptixApiKey} may not delete` },
      path: '/api/v3/speech-to-text/session/sess_echo403',
    });
    sims.daily.pushFault({ status: 503, body: { error: `overloaded (key ${TEST_CREDENTIALS.dailyApiKey})` }, path: `/v1/batch-processor/${batchJobId}` });

    const upstream = 'upstream { status reason lastHttpStatus lastError providerResponse }';
    const errorFields = '... on Error { code message systemMessage details }';
    const answers: GraphQLResponse[] = await Promise.all([
      t.gql(t.keys.member, `mutation { deleteTranscription(transcriptionId: "trans_echo401") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.member, `mutation { deleteTranscription(transcriptionId: "trans_ok") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.member, `mutation { deleteTranscription(transcriptionId: "revecho503") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.member, `mutation { deleteSession(sessionId: "sess_echo403") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.member, `mutation { deleteTrack(organizationId: "${ORG}", trackId: "mtrack_echo401") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.member, `mutation { deleteBatchJob(batchJobId: "${batchJobId}") { ... on Deletion { ${upstream} } ${errorFields} } }`),
      t.gql(t.keys.viewer, `mutation { deleteTranscription(transcriptionId: "trans_ok") { ${errorFields} } }`),
      t.gql(t.keys.otherMember, `mutation { deleteTranscription(transcriptionId: "trans_ok") { ${errorFields} } }`),
      t.gql(t.keys.admin, VIEWER, {}, { 'x-api-key': t.keys.otherAdmin }),
      t.gql(`sdg_${'A'.repeat(43)}`, VIEWER),
      t.gql(null, VIEWER, {}, { authorization: `Token ${t.keys.admin}` }),
      t.gql(t.keys.admin, `{ resource(kind: TRANSCRIPTION, id: "trans_echo401") { deletionReceipt { details upstreamHttpStatus } } }`),
      t.gql(t.keys.admin, '{ viewer { nope } }'),
    ]);
    const outcomes = answers.slice(0, 6).map((a) => a.body.data && Object.values(a.body.data)[0]?.upstream);
    // The failures really happened (else this test proves nothing).
    expect(outcomes.map((u) => [u?.status, u?.lastHttpStatus])).toEqual([
      ['FAILED', 401],
      ['DELETED', 200],
      ['PENDING', 503],
      ['FAILED', 403],
      ['FAILED', 401],
      ['PENDING', 503],
    ]);
    expect(answers.slice(6, 11).map((a) => a.status)).toEqual([200, 200, 401, 401, 401]);
    // What the provider said does reach the caller, with the echoed credential cut out of it.
    expect(outcomes[0]!.lastError).toContain('bad token Bearer');
    expect(outcomes[2]!.lastError).toContain('upstream down');

    const secrets = [...Object.values(TEST_CREDENTIALS), ...Object.values(t.keys)];
    const answered = answers.map((a) => JSON.stringify(a.body)).join('\n');
    const logged = t.logs.join('\n');
    const audited = JSON.stringify([await t.sql('SELECT * FROM audit_events'), await t.sql('SELECT * FROM upstream_deletions')]);
    expect(logged).toContain('provider call');
    for (const secret of secrets) {
      expect(answered, 'an answer').not.toContain(secret);
      expect(logged, 'the logs').not.toContain(secret);
      expect(audited, 'the audit trail').not.toContain(secret);
    }
  });
});
