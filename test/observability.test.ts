// What an operator sees: one structured log line per request (request id, key id, operation, outcome,
// duration), one per provider call (provider, status, latency), no secret anywhere in the logs,
// Prometheus metrics at /metrics with the backlog read from the database, and the health probes.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/logging.ts';
import { ORG, TEST_CREDENTIALS, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE = `mutation DeleteIt($id: ID!) {
  deleteTranscription(transcriptionId: $id) {
    __typename
    ... on TranscriptionDeletion { deletedUpstream upstream { status } }
    ... on Error { code }
  }
}`;

type LogLine = Record<string, any>;

let t: TestGateway;
const presentedBadKeys = ['sdg_NotARealKeyButShapedLikeOne0000000000000000', 'hunter2-plain-secret', 'Bearer-ish.token.value'];

function lines(): LogLine[] {
  return t.logs.flatMap((chunk) => chunk.split('\n')).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

function requestLog(requestId: string): LogLine {
  const found = lines().find((l) => l.event === 'request' && l.requestId === requestId);
  if (!found) throw new Error(`no request log line for ${requestId}`);
  return found;
}

async function metricsText(): Promise<string> {
  const response = await fetch(`${t.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return response.text();
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there is none). */
function sample(text: string, name: string, labels: Record<string, string>): number {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) && wanted.every((w) => l.slice(0, l.indexOf('}')).includes(w)))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

beforeAll(async () => {
  t = await startTestGateway();
  await t.register(
    ['trans_obs_ok', 'trans_obs_busy', 'trans_obs_denied', 'trans_obs_xkey'].map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' })),
  );
  t.simulators.aitronos.pushFault({ status: 503, path: '/v1/audio/transcribe/trans_obs_busy', times: 1 });
  t.simulators.aitronos.pushFault({
    status: 401,
    body: { success: false, error: { code: 'AUTHENTICATION_REQUIRED', status: 401, message: 'no' } },
    path: '/v1/audio/transcribe/trans_obs_denied',
  });

  // The workload: deletes by both key headers, provider faults, refused keys, a conflict, bad ids.
  await t.gql(t.keys.member, DELETE, { id: 'trans_obs_ok' }, { 'x-request-id': 'obs-ok-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
  await t.gql(t.keys.member, DELETE, { id: 'trans_obs_busy' }, { 'x-request-id': 'obs-busy-1' });
  await t.gql(t.keys.member, DELETE, { id: 'trans_obs_denied' });
  await t.gql(null, DELETE, { id: 'trans_obs_xkey' }, { 'x-api-key': t.keys.admin, 'x-request-id': 'obs-xkey-1' });
  await t.gql(t.keys.member, DELETE, { id: 'trans_nowhere' }, { 'x-request-id': 'obs-missing-1' });
  await t.gql(t.keys.member, DELETE, { id: '../etc/passwd' });
  for (const bad of presentedBadKeys) await t.gql(bad, DELETE, { id: 'trans_obs_ok' }, { 'x-request-id': `obs-bad-${presentedBadKeys.indexOf(bad)}` });
  await t.gql(null, '{ viewer { userId } }', undefined, { 'x-api-key': presentedBadKeys[0]! });
  await t.gql(t.keys.viewer, '{ viewer { userId } }', undefined, { 'x-api-key': t.keys.admin, 'x-request-id': 'obs-conflict-1' });
  await t.gql(null, '{ viewer { userId } }', undefined, { 'x-request-id': 'obs-nokey-1' });
});
afterAll(async () => {
  await t?.close();
});

describe('request logs', () => {
  it('log one JSON line per request with request id, key id, operation, outcome and duration', async () => {
    const principalId = (await t.gql(t.keys.member, '{ viewer { principalId } }')).body.data!.viewer.principalId as string;
    const ok = requestLog('obs-ok-1');
    expect(ok).toMatchObject({
      level: 'info',
      event: 'request',
      requestId: 'obs-ok-1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      principalId,
      organizationId: ORG,
      operationName: 'DeleteIt',
      operationType: 'mutation',
      outcome: 'ok',
      codes: [],
      status: 200,
    });
    expect(ok.durationMs).toEqual(expect.any(Number));
    expect(ok.time).toEqual(expect.any(String));
  });

  it('name the error codes of refused requests and of error results', () => {
    expect(requestLog('obs-nokey-1')).toMatchObject({ principalId: null, outcome: 'error', codes: ['AUTHENTICATION_REQUIRED'], status: 401 });
    expect(requestLog('obs-bad-0')).toMatchObject({ principalId: null, outcome: 'error', codes: ['AUTHENTICATION_REQUIRED'], status: 401 });
    expect(requestLog('obs-conflict-1')).toMatchObject({ outcome: 'error', codes: ['AUTHENTICATION_REQUIRED'], status: 401 });
    expect(requestLog('obs-missing-1')).toMatchObject({ outcome: 'error', codes: ['NOT_FOUND'], status: 200, operationName: 'DeleteIt' });
    expect(requestLog('obs-xkey-1')).toMatchObject({ outcome: 'ok', operationType: 'mutation' });
  });

  it('log each provider call with provider, upstream status, HTTP status and latency', () => {
    const calls = lines().filter((l) => l.event === 'provider_call');
    expect(calls.length).toBeGreaterThanOrEqual(4);
    for (const call of calls) {
      expect(call).toMatchObject({ provider: 'AITRONOS_AUDIO', kind: 'TRANSCRIPTION', via: 'request' });
      expect(['DELETED', 'PENDING', 'FAILED']).toContain(call.status);
      expect(call.latencyMs).toEqual(expect.any(Number));
    }
    expect(calls.map((c) => [c.status, c.httpStatus])).toEqual(expect.arrayContaining([['DELETED', 200], ['PENDING', 503], ['FAILED', 401]]));
  });

  it('never contain an API key, a presented credential or a provider credential', () => {
    const text = t.logs.join('\n');
    expect(text.length).toBeGreaterThan(1000);
    for (const key of Object.values(t.keys)) expect(text).not.toContain(key);
    for (const bad of presentedBadKeys) expect(text).not.toContain(bad);
    for (const credential of Object.values(TEST_CREDENTIALS)) expect(text).not.toContain(credential);
    expect(text).not.toMatch(/sdg_[A-Za-z0-9_-]{20,}/);
  });

  it('redact credentials even where code would log them by mistake', () => {
    const written: string[] = [];
    const logger = createLogger(
      'info',
      new Writable({
        write(chunk, _encoding, done) {
          written.push(String(chunk));
          done();
        },
      }),
    );
    const key = t.keys.admin;
    logger.info(
      {
        headers: { authorization: `Bearer ${key}`, 'x-api-key': key },
        request: { headers: { authorization: 'Bearer abc', cookie: 'session=1' } },
        credential: TEST_CREDENTIALS.dailyApiKey,
        err: new Error(`upstream refused Authorization: Bearer ${TEST_CREDENTIALS.revaiAccessToken}`),
        note: `the caller sent ${key}`,
      },
      `call with Bearer ${TEST_CREDENTIALS.aitronosApiKey}`,
    );
    const line = written.join('');
    expect(line).not.toContain(key);
    for (const credential of Object.values(TEST_CREDENTIALS)) expect(line).not.toContain(credential);
    expect(line).not.toContain('session=1');
    expect(JSON.parse(line)).toMatchObject({ headers: { authorization: '[redacted]', 'x-api-key': '[redacted]' }, credential: '[redacted]' });
  });
});

describe('/metrics', () => {
  it('counts requests, deletions by provider and outcome, and provider latency', async () => {
    const text = await metricsText();
    expect(sample(text, 'gateway_graphql_requests_total', { operation: 'mutation', outcome: 'ok' })).toBe(4);
    expect(sample(text, 'gateway_graphql_requests_total', { operation: 'mutation', outcome: 'VALIDATION_ERROR' })).toBe(1);
    expect(sample(text, 'gateway_graphql_requests_total', { outcome: 'AUTHENTICATION_REQUIRED' })).toBe(6);
    expect(sample(text, 'gateway_graphql_requests_total', { operation: 'mutation', outcome: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'gateway_deletions_total', { kind: 'TRANSCRIPTION', provider: 'AITRONOS_AUDIO', outcome: 'DELETED' })).toBe(4);
    expect(sample(text, 'gateway_deletions_total', { kind: 'TRANSCRIPTION', outcome: 'NOT_FOUND' })).toBe(1);
    expect(sample(text, 'gateway_deletions_total', { kind: 'TRANSCRIPTION', outcome: 'VALIDATION_FAILED' })).toBe(1);
    expect(sample(text, 'gateway_provider_calls_total', { provider: 'AITRONOS_AUDIO', status: 'PENDING', via: 'request' })).toBe(1);
    expect(sample(text, 'gateway_provider_calls_total', { provider: 'AITRONOS_AUDIO', status: 'FAILED', via: 'request' })).toBe(1);
    expect(sample(text, 'gateway_provider_call_duration_seconds_count', { provider: 'AITRONOS_AUDIO' })).toBe(4);
    expect(text).toContain('gateway_provider_call_duration_seconds_bucket{le="0.005",provider="AITRONOS_AUDIO"}');
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('reads the pending and failed upstream deletions from the database at each scrape', async () => {
    const before = await metricsText();
    expect(sample(before, 'gateway_upstream_deletions', { provider: 'AITRONOS_AUDIO', status: 'PENDING' })).toBe(1);
    expect(sample(before, 'gateway_upstream_deletions', { provider: 'AITRONOS_AUDIO', status: 'FAILED' })).toBe(1);
    expect(before).toContain('gateway_upstream_deletions{provider="DAILY",status="PENDING"} 0');

    await t.register([{ kind: 'BATCH_JOB', id: '6f1d3f7e-3d7b-4c59-9b1e-0d6c1b2a9e41', organizationId: ORG, ownerId: 'bob' }]);
    t.simulators.daily.pushFault({ status: 500, path: '/v1/batch-processor/6f1d3f7e', times: 1 });
    const job = await t.gql(t.keys.member, 'mutation { deleteBatchJob(batchJobId: "6f1d3f7e-3d7b-4c59-9b1e-0d6c1b2a9e41") { ... on Deletion { upstream { status } } } }');
    expect(job.body.data!.deleteBatchJob.upstream.status).toBe('PENDING');
    const after = await metricsText();
    expect(sample(after, 'gateway_upstream_deletions', { provider: 'DAILY', status: 'PENDING' })).toBe(1);
  });

  it('carries no ids, keys or credentials', async () => {
    const text = await metricsText();
    for (const value of [...Object.values(t.keys), ...Object.values(TEST_CREDENTIALS), 'trans_obs_ok', 'obs-ok-1', ORG]) expect(text).not.toContain(value);
  });
});

describe('health probes', () => {
  it('/healthz answers 200 while the process runs; /readyz 200 while the database is usable, 503 when not', async () => {
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${t.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    // A database without its tables is not one the gateway can serve from.
    await t.sqlRun('ALTER TABLE upstream_deletions RENAME TO upstream_deletions_away');
    try {
      const unready = await fetch(`${t.url}/readyz`);
      expect(unready.status).toBe(503);
      expect(await unready.json()).toEqual({ status: 'unavailable' });
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      await t.sqlRun('ALTER TABLE upstream_deletions_away RENAME TO upstream_deletions');
    }
    expect((await fetch(`${t.url}/readyz`)).status).toBe(200);
  });
});
