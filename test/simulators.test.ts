// Provider simulators over real HTTP (servers on port 0, undici client).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AitronosSimulator } from '../src/simulators/aitronos.ts';
import { DailySimulator } from '../src/simulators/daily.ts';
import { startSimulators, type Simulators } from '../src/simulators/launcher.ts';
import { validateFault } from '../src/simulators/simulator.ts';

const KEYS = {
  aitronosApiKey: 'test-aitronos-key',
  scriptixApiKey: 'test-scriptix-key',
  dailyApiKey: 'test-daily-key',
  revaiAccessToken: 'test-revai-token',
};
const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

async function call(
  method: 'GET' | 'POST' | 'DELETE',
  url: string,
  headers: Record<string, string> = {},
  body?: string,
  signal?: AbortSignal,
): Promise<Answer> {
  const res = await request(url, { method, headers, ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text, json };
}
const del = (url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Answer> =>
  call('DELETE', url, headers, undefined, signal);

let sims: Simulators;
let urls: Simulators['baseUrls'];

beforeAll(async () => {
  sims = await startSimulators({ credentials: KEYS, dailyCustomBucket: 'acme-test-bucket' });
  urls = sims.baseUrls;
});
afterAll(async () => {
  await sims.stop();
});
beforeEach(() => {
  for (const s of [sims.aitronos, sims.revai, sims.scriptix, sims.daily]) s.reset();
});

describe('launcher', () => {
  it('gives loopback base URLs without trailing slash; Daily ends in /v1', () => {
    expect(urls.aitronos).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(urls.revai).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(urls.scriptix).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(urls.daily).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
  });
});

describe('Aitronos audio', () => {
  const path = '/v1/audio/transcribe/trans_abc123';
  const auth = bearer(KEYS.aitronosApiKey);

  it('rejects a missing or wrong key with the 401 envelope', async () => {
    for (const headers of [{}, bearer('wrong'), { 'x-api-key': KEYS.aitronosApiKey }]) {
      const r = await del(urls.aitronos + path, headers);
      expect(r.status).toBe(401);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.json).toMatchObject({
        success: false,
        error: { code: 'AUTHENTICATION_REQUIRED', type: 'authentication_error', status: 401 },
      });
    }
    expect(sims.aitronos.stateOf(path)).toBe('exists');
  });

  it('deletes once with the success envelope, then answers its own 404', async () => {
    const r = await del(urls.aitronos + path, auth);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.json).toEqual({
      success: true,
      data: { deleted: true, transcription_id: 'trans_abc123', deleted_at: expect.any(String), deleted_upstream: true },
      metadata: { request_id: expect.stringMatching(/^req_[0-9a-f]{32}$/), timestamp: expect.any(String), processing_time_ms: expect.any(Number) },
    });
    const again = await del(urls.aitronos + path, auth);
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({
      success: false,
      error: {
        code: 'NOT_FOUND',
        system_message: 'Transcription not found',
        status: 404,
        details: { transcription_id: 'trans_abc123' },
        trace_id: expect.any(String),
        timestamp: expect.any(String),
      },
    });
    expect(sims.aitronos.successfulDeletes()).toEqual(new Map([[path, 1]]));
  });

  it('reports deleted_upstream false when switched, and markMissing gives 404', async () => {
    sims.aitronos.setDeletedUpstream(false);
    const r = await del(urls.aitronos + path, auth);
    expect((r.json as { data: { deleted_upstream: boolean } }).data.deleted_upstream).toBe(false);
    sims.aitronos.markMissing('/v1/audio/transcribe/trans_gone');
    expect((await del(`${urls.aitronos}/v1/audio/transcribe/trans_gone`, auth)).status).toBe(404);
  });

  it('answers a route miss with plain-text 404, not a provider envelope', async () => {
    for (const url of [`${urls.aitronos}/v1/audio/transcribe`, `${urls.aitronos}/nope/trans_1`, `${urls.revai}/v1/jobs/x`]) {
      const r = await del(url, auth);
      expect(r.status).toBe(404);
      expect(r.headers['content-type']).toBe('text/plain');
      expect(r.text).toBe('Not Found');
    }
  });
});

describe('Aitronos music', () => {
  const path = '/v1/music/org_abc/tracks/mtrack_7c1a';
  const key = { 'x-api-key': KEYS.aitronosApiKey };

  it('accepts X-API-Key only: Authorization Bearer alone is 401', async () => {
    for (const headers of [{}, { 'x-api-key': 'wrong' }, bearer(KEYS.aitronosApiKey)]) {
      const r = await del(urls.aitronos + path, headers);
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ success: false, error: { code: 'AUTHENTICATION_REQUIRED', type: 'authentication_error' } });
    }
  });

  it('acknowledges a delete, then answers RESOURCE_NOT_FOUND', async () => {
    const r = await del(urls.aitronos + path, key);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ success: true, id: 'mtrack_7c1a', detail: 'Track deleted.' });
    const again = await del(urls.aitronos + path, key);
    expect(again.status).toBe(404);
    expect(again.json).toMatchObject({
      success: false,
      error: { code: 'RESOURCE_NOT_FOUND', system_message: 'Music track not found', status: 404, details: { track_id: 'mtrack_7c1a' } },
    });
  });

  it("answers the seed's 404 to a URL naming another organisation than the track's, set over HTTP; the right one deletes", async () => {
    const set = await call('POST', `${urls.aitronos}/__sim/track-organization`, {}, '{"trackId":"mtrack_7c1a","organizationId":"org_home"}');
    expect(set.status).toBe(204);
    const wrong = await del(urls.aitronos + path, key);
    expect(wrong.status).toBe(404);
    expect(wrong.json).toMatchObject({ success: false, error: { code: 'RESOURCE_NOT_FOUND', status: 404, trace_id: expect.stringMatching(/^req_[0-9a-f]{32}$/) } });
    const right = await del(`${urls.aitronos}/v1/music/org_home/tracks/mtrack_7c1a`, key);
    expect(right.status).toBe(200);
    expect((await call('POST', `${urls.aitronos}/__sim/track-organization`, {}, '{"trackId":"mtrack_7c1a","organizationId":"../x"}')).status).toBe(400);
  });

  it('carries a trace id in every error envelope, distinct per answer', async () => {
    sims.aitronos.setTrackCreatorMismatch('mtrack_7c1a');
    const forbidden = await del(urls.aitronos + path, key);
    const unauthenticated = await del(urls.aitronos + path, {});
    const traces = [forbidden, unauthenticated].map((r) => (r.json as { error: { trace_id: string } }).error.trace_id);
    expect(traces[0]).toMatch(/^req_[0-9a-f]{32}$/);
    expect(traces[1]).toMatch(/^req_[0-9a-f]{32}$/);
    expect(traces[0]).not.toBe(traces[1]);
  });

  it('refuses a track whose creator is someone else with 403', async () => {
    sims.aitronos.setTrackCreatorMismatch('mtrack_7c1a');
    const r = await del(urls.aitronos + path, key);
    expect(r.status).toBe(403);
    expect(r.json).toMatchObject({
      error: { code: 'INSUFFICIENT_PERMISSIONS', system_message: 'Only the track creator may delete it', status: 403 },
    });
    expect(sims.aitronos.stateOf(path)).toBe('exists');
  });
});

describe('Rev AI', () => {
  const path = '/speechtotext/v1/jobs/job123';
  const auth = bearer(KEYS.revaiAccessToken);

  it('rejects a missing or wrong token with problem+json 401', async () => {
    for (const headers of [{}, bearer('wrong')]) {
      const r = await del(urls.revai + path, headers);
      expect(r.status).toBe(401);
      expect(r.headers['content-type']).toBe('application/problem+json');
      expect(r.json).toEqual({ title: 'Authorization has been denied for this request', status: 401 });
    }
  });

  it('deletes a completed job with an empty 204, then answers job-not-found', async () => {
    const r = await del(urls.revai + path, auth);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const again = await del(urls.revai + path, auth);
    expect(again.status).toBe(404);
    expect(again.headers['content-type']).toBe('application/problem+json');
    expect(again.json).toEqual({ type: 'https://www.rev.ai/api/v1/errors/job-not-found', title: 'could not find job', status: 404 });
  });

  it('answers 409 while in progress, 204 once transcribed (set through the control API)', async () => {
    sims.revai.setJobState('job123', 'in_progress');
    const r = await del(urls.revai + path, auth);
    expect(r.status).toBe(409);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.json).toEqual({
      allowed_values: ['transcribed', 'failed'],
      current_value: 'in_progress',
      type: 'https://www.rev.ai/api/v1/errors/invalid-job-state',
      title: 'Job is in invalid state',
      detail: 'Job is in invalid state to be deleted',
      status: 409,
    });
    const set = await call('POST', `${urls.revai}/__sim/jobs/job123`, {}, '{"state":"transcribed"}');
    expect(set.status).toBe(204);
    expect((await del(urls.revai + path, auth)).status).toBe(204);

    sims.revai.setJobState('job_failed', 'failed');
    expect((await del(`${urls.revai}/speechtotext/v1/jobs/job_failed`, auth)).status).toBe(204);
    expect((await call('POST', `${urls.revai}/__sim/jobs/x`, {}, '{"state":"done"}')).status).toBe(400);
  });
});

describe('Scriptix', () => {
  const session = '/api/v3/speech-to-text/session/sess_1';
  const doc = `${session}/document/doc_1`;
  const comment = `${doc}/comments/c_1`;
  const auth = bearer(KEYS.scriptixApiKey);

  it('rejects a missing or wrong key with 401 JSON', async () => {
    for (const headers of [{}, bearer('wrong')]) {
      const r = await del(urls.scriptix + doc, headers);
      expect(r.status).toBe(401);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.json).toEqual({ error: 'Unauthorized' });
    }
  });

  it('deletes a session with 204; its documents and comments go with it; a second session delete is 400', async () => {
    const r = await del(urls.scriptix + session, auth);
    expect(r.status).toBe(204);
    expect(r.text).toBe('');
    const d = await del(urls.scriptix + doc, auth);
    expect(d.status).toBe(404);
    expect(d.json).toEqual({ error: 'Document not found' });
    const c = await del(urls.scriptix + comment, auth);
    expect(c.status).toBe(404);
    expect(c.json).toEqual({ error: 'Comment not found' });
    const again = await del(urls.scriptix + session, auth);
    expect(again.status).toBe(400);
    expect(again.json).toEqual({ error: 'Session already marked as removed' });
  });

  it('deletes a document (taking its comments) and a comment once each', async () => {
    expect((await del(urls.scriptix + `${doc}/comments/c_2`, auth)).status).toBe(204);
    expect((await del(urls.scriptix + `${doc}/comments/c_2`, auth)).status).toBe(404);
    expect((await del(urls.scriptix + doc, auth)).status).toBe(204);
    expect((await del(urls.scriptix + doc, auth)).json).toEqual({ error: 'Document not found' });
    expect((await del(urls.scriptix + comment, auth)).status).toBe(404);
    // Another document of the same session is untouched.
    expect((await del(urls.scriptix + `${session}/document/doc_2`, auth)).status).toBe(204);
  });

  it('can answer 200 with a body instead of 204', async () => {
    sims.scriptix.setSuccessStatus(200);
    const r = await del(urls.scriptix + session, auth);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ result: 'ok' });
  });
});

describe('Daily', () => {
  const auth = bearer(KEYS.dailyApiKey);
  const id = '3ab8faa2-8ba2-4ee6-bd15-003a92c18245';

  it('rejects a missing or wrong key with 401 JSON', async () => {
    for (const headers of [{}, bearer('wrong')]) {
      const r = await del(`${urls.daily}/batch-processor/${id}`, headers);
      expect(r.status).toBe(401);
      expect(r.json).toEqual({ error: 'authentication-error', info: 'Invalid API key' });
    }
  });

  it('answers the job status with Daily and custom-bucket outputs, then not-found', async () => {
    const r = await del(`${urls.daily}/batch-processor/${id}`, auth);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/json');
    const custom = (p: string): object => ({
      key: `acme-test-bucket/${id}/${p}`,
      bucket: 'acme-test-bucket',
      region: 'eu-central-1',
    });
    expect(r.json).toEqual({
      id,
      preset: 'transcript',
      status: 'finished',
      input: { sourceType: 'recordingId', recordingId: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/) },
      output: {
        transcription: [
          { format: 'json', s3Config: { key: `daily-prod-batch/${id}/transcript/output.json`, bucket: 'daily-prod-batch', region: 'us-west-2' } },
          { format: 'txt', s3Config: custom('transcript/output.txt') },
        ],
        summary: { format: 'txt', s3Config: custom('summary/output.txt') },
      },
      error: null,
    });
    const again = await del(`${urls.daily}/batch-processor/${id}`, auth);
    expect(again.status).toBe(404);
    expect(again.json).toEqual({ error: 'not-found', info: `batch job ${id} not found` });
    expect(sims.daily.successfulDeletes().get(`/v1/batch-processor/${id}`)).toBe(1);
  });

  it('answers 200 with the job reporting an error, in either form, when switched over HTTP; the job stays until cleared', async () => {
    const url = `${urls.daily}/batch-processor/${id}`;
    const text = await call('POST', `${urls.daily}/__sim/job-error`, {}, JSON.stringify({ jobId: id, error: 'Failed to delete transcriptions', status: 'finished' }));
    expect(text.status).toBe(204);
    const first = await del(url, auth);
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ id, status: 'finished', error: 'Failed to delete transcriptions', output: { summary: expect.any(Object) } });

    expect((await call('POST', `${urls.daily}/__sim/job-error`, {}, '{"status":"error"}')).status).toBe(204);
    const other = await del(`${urls.daily}/batch-processor/job_other`, auth);
    expect(other.json).toMatchObject({ id: 'job_other', status: 'error', error: null });
    expect(sims.daily.successfulDeletes().get(`/v1/batch-processor/${id}`)).toBe(1);
    expect(sims.daily.stateOf(`/v1/batch-processor/${id}`)).toBe('exists');

    expect((await call('DELETE', `${urls.daily}/__sim/job-error`)).status).toBe(204);
    expect((await del(url, auth)).json).toMatchObject({ status: 'finished', error: null });
    expect((await del(url, auth)).status).toBe(404);
    expect((await call('POST', `${urls.daily}/__sim/job-error`, {}, '{"status":"broken"}')).status).toBe(400);
  });

  it('serves only under /v1; control API works under both / and /v1', async () => {
    const root = urls.daily.replace(/\/v1$/, '');
    const miss = await del(`${root}/batch-processor/${id}`, auth);
    expect(miss.status).toBe(404);
    expect(miss.text).toBe('Not Found');
    expect((await call('GET', `${urls.daily}/__sim/deletes`)).status).toBe(200);
    expect((await call('GET', `${root}/__sim/deletes`)).status).toBe(200);
  });

  it('defaults the custom bucket to acme-recordings', async () => {
    const daily = new DailySimulator({ apiKey: 'k' });
    const base = await daily.start();
    try {
      const r = await del(`${base}/batch-processor/job1`, bearer('k'));
      expect((r.json as { output: { summary: { s3Config: { bucket: string } } } }).output.summary.s3Config.bucket).toBe('acme-recordings');
    } finally {
      await daily.stop();
    }
  });
});

describe('x-request-id response header', () => {
  it('is absent by default (no seed documents one), and on every answer of Daily, Rev AI and Scriptix once switched on', async () => {
    const targets = [
      { sim: sims.daily, url: `${urls.daily}/batch-processor/job_rid`, headers: bearer(KEYS.dailyApiKey) },
      { sim: sims.revai, url: `${urls.revai}/speechtotext/v1/jobs/job_rid`, headers: bearer(KEYS.revaiAccessToken) },
      { sim: sims.scriptix, url: `${urls.scriptix}/api/v3/speech-to-text/session/sess_rid`, headers: bearer(KEYS.scriptixApiKey) },
    ];
    for (const { sim, url, headers } of targets) {
      expect((await del(url, headers)).headers['x-request-id']).toBeUndefined();
      const on = await call('POST', `${sim.baseUrl}/__sim/request-id-header`, {}, '{"enabled":true}');
      expect(on.status).toBe(204);
      const ids = [(await del(url, headers)).headers['x-request-id'], (await del(url, {})).headers['x-request-id']];
      sim.pushFault({ status: 503 });
      ids.push((await del(url, headers)).headers['x-request-id']);
      for (const id of ids) expect(id).toMatch(/^req_[0-9a-f]{32}$/);
      expect(new Set(ids).size).toBe(3);
      expect((await call('POST', `${sim.baseUrl}/__sim/request-id-header`, {}, '{"enabled":"yes"}')).status).toBe(400);
      sim.setRequestIdHeader(false);
      expect((await del(url, headers)).headers['x-request-id']).toBeUndefined();
    }
  });
});

describe('faults', () => {
  const audio = '/v1/audio/transcribe/trans_f';
  const auth = bearer(KEYS.aitronosApiKey);

  it('answers a status fault with a custom body, without changing state, before auth', async () => {
    sims.aitronos.pushFault({ status: 404, body: '<html>proxy</html>', contentType: 'text/html' });
    const r = await del(urls.aitronos + audio); // no key: faults come before auth (outage/proxy)
    expect(r.status).toBe(404);
    expect(r.headers['content-type']).toBe('text/html');
    expect(r.text).toBe('<html>proxy</html>');
    expect((await del(urls.aitronos + audio, auth)).status).toBe(200); // still existed
  });

  it('uses provider-shaped default bodies and sets Retry-After', async () => {
    sims.aitronos.pushFault({ status: 503, retryAfter: '7' });
    const a = await del(urls.aitronos + audio, auth);
    expect(a.status).toBe(503);
    expect(a.headers['retry-after']).toBe('7');
    expect(a.json).toMatchObject({ success: false, error: { code: 'SERVICE_UNAVAILABLE', status: 503 } });

    sims.revai.pushFault({ status: 429, retryAfter: '1' });
    const r = await del(`${urls.revai}/speechtotext/v1/jobs/j`, bearer(KEYS.revaiAccessToken));
    expect(r.status).toBe(429);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(r.json).toEqual({ title: 'Too Many Requests', status: 429 });

    sims.scriptix.pushFault({ status: 502, body: { custom: true } });
    sims.scriptix.pushFault({ status: 500 });
    expect((await del(`${urls.scriptix}/x`)).json).toEqual({ custom: true }); // queue order
    expect((await del(`${urls.scriptix}/x`)).json).toEqual({ error: 'service unavailable' });
    expect((await del(`${urls.scriptix}/x`)).status).toBe(404); // queue empty: route miss
  });

  it('delays a normal answer with latencyMs', async () => {
    sims.aitronos.pushFault({ latencyMs: 120 });
    const t0 = Date.now();
    const r = await del(urls.aitronos + audio, auth);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
    expect(r.status).toBe(200);
  });

  it('hangs `times` requests, then answers normally; hung requests are recorded with status 0', async () => {
    sims.aitronos.pushFault({ hang: true, times: 2 });
    for (let i = 0; i < 2; i++) {
      await expect(del(urls.aitronos + audio, auth, AbortSignal.timeout(80))).rejects.toThrow();
    }
    expect((await del(urls.aitronos + audio, auth)).status).toBe(200);
    expect(sims.aitronos.requests.map((r) => r.status)).toEqual([0, 0, 200]);
  });

  it('matches path prefixes, supports times Infinity, and validates', async () => {
    sims.aitronos.pushFault({ status: 500, path: '/v1/music', times: Infinity });
    for (let i = 0; i < 3; i++) expect((await del(`${urls.aitronos}/v1/music/o/tracks/t${i}`)).status).toBe(500);
    expect((await del(urls.aitronos + audio, auth)).status).toBe(200);
    sims.aitronos.clearFaults();
    expect((await del(`${urls.aitronos}/v1/music/o/tracks/t`, { 'x-api-key': KEYS.aitronosApiKey })).status).toBe(200);
    expect(() => validateFault({ times: 0, status: 500 })).toThrow(/times/);
    expect(() => validateFault({ retryAfter: '1' })).toThrow(/status, latencyMs or hang/);
  });

  it('stop() closes hung connections', async () => {
    const sim = new AitronosSimulator({ apiKey: 'k' });
    const base = await sim.start();
    sim.pushFault({ hang: true });
    const pending = del(`${base}/v1/audio/transcribe/trans_1`, bearer('k'));
    await new Promise((r) => setTimeout(r, 30));
    const t0 = Date.now();
    await sim.stop();
    await expect(pending).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('control API and recording', () => {
  const audio = '/v1/audio/transcribe/trans_c';
  const auth = bearer(KEYS.aitronosApiKey);

  it('queues faults over HTTP (times null = always) and clears them', async () => {
    const post = await call('POST', `${urls.aitronos}/__sim/faults`, {}, JSON.stringify({ status: 503, times: null }));
    expect(post.status).toBe(204);
    for (let i = 0; i < 3; i++) expect((await del(urls.aitronos + audio, auth)).status).toBe(503);
    expect((await call('GET', `${urls.aitronos}/__sim/faults`)).json).toEqual([{ status: 503, times: null }]);
    expect((await call('DELETE', `${urls.aitronos}/__sim/faults`)).status).toBe(204);
    expect((await del(urls.aitronos + audio, auth)).status).toBe(200);
  });

  it('rejects bad control bodies with 400 and unknown endpoints with 404', async () => {
    for (const body of ['{nope', '[]', '{"status":"503"}', '{"status":503,"times":-1}', '{"status":503,"colour":1}']) {
      const r = await call('POST', `${urls.aitronos}/__sim/faults`, {}, body);
      expect(r.status).toBe(400);
      expect((r.json as { error: string }).error).toEqual(expect.any(String));
    }
    expect((await call('GET', `${urls.aitronos}/__sim/nothing`)).status).toBe(404);
    expect(sims.aitronos.pendingFaults()).toEqual([]);
  });

  it('records requests (lower-case headers, status, time), redacts secrets over HTTP, counts deletes, resets', async () => {
    const before = Date.now();
    await del(urls.aitronos + audio, auth);
    await del(`${urls.aitronos}/v1/music/o/tracks/t1`, { 'X-API-Key': KEYS.aitronosApiKey });
    const [first, second] = sims.aitronos.requests;
    expect(first).toMatchObject({ method: 'DELETE', path: audio, status: 200 });
    expect(first?.headers['authorization']).toBe(`Bearer ${KEYS.aitronosApiKey}`);
    expect(first?.at).toBeGreaterThanOrEqual(before);
    expect(second?.headers['x-api-key']).toBe(KEYS.aitronosApiKey);

    const listed = await call('GET', `${urls.aitronos}/__sim/requests`);
    expect(listed.text).not.toContain(KEYS.aitronosApiKey);
    const rows = listed.json as Array<{ headers: Record<string, string> }>;
    expect(rows).toHaveLength(2); // control requests are not recorded
    expect(rows[0]?.headers['authorization']).toBe('[redacted]');
    expect(rows[1]?.headers['x-api-key']).toBe('[redacted]');

    expect((await call('GET', `${urls.aitronos}/__sim/deletes`)).json).toEqual({ [audio]: 1, '/v1/music/o/tracks/t1': 1 });
    expect((await call('POST', `${urls.aitronos}/__sim/reset`)).status).toBe(204);
    expect(sims.aitronos.requests).toHaveLength(0);
    expect(sims.aitronos.successfulDeletes().size).toBe(0);
    expect((await del(urls.aitronos + audio, auth)).status).toBe(200); // state cleared too
  });

  it('marks a resource missing over HTTP', async () => {
    expect((await call('POST', `${urls.revai}/__sim/missing`, {}, '{"path":"/speechtotext/v1/jobs/gone"}')).status).toBe(204);
    expect((await del(`${urls.revai}/speechtotext/v1/jobs/gone`, bearer(KEYS.revaiAccessToken))).status).toBe(404);
  });
});

describe('cli', () => {
  it('prints the base URLs as one JSON line and stops cleanly on SIGTERM', async () => {
    const cli = fileURLToPath(new URL('../src/simulators/cli.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', cli], {
      env: { ...process.env, AITRONOS_API_KEY: 'cli-key' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
      const baseUrls = JSON.parse(line) as Record<string, string>;
      expect(Object.keys(baseUrls).sort()).toEqual(['aitronos', 'daily', 'revai', 'scriptix']);
      expect(baseUrls['daily']).toMatch(/\/v1$/);
      expect((await del(`${baseUrls['aitronos']}/v1/audio/transcribe/trans_1`, bearer('cli-key'))).status).toBe(200);
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      expect((await exited)[0]).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 10_000);
});
