// CORS as PRODUCT.md settles it: a listed origin is echoed with the four request headers allowed, any
// other origin gets no grant, `*` never goes with credentials, and the sandbox allows http://localhost:*.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type GatewayHandle } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logging.ts';
import { startTestGateway, type TestGateway } from './support/harness.ts';

const APP = 'https://app.example.com';
const ADMIN = 'https://admin.example.com';
const REQUESTED_HEADERS = 'authorization, x-api-key, content-type, x-request-id';

function preflight(url: string, origin: string) {
  return fetch(`${url}/graphql`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': REQUESTED_HEADERS },
  });
}

function allowedHeaders(response: Response): string[] {
  return (response.headers.get('access-control-allow-headers') ?? '').split(',').map((h) => h.trim().toLowerCase());
}

function expectNoGrant(response: Response) {
  expect(response.status).toBeLessThan(500);
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
  expect(response.headers.get('access-control-allow-credentials')).toBeNull();
}

describe('with CORS_ORIGINS set', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ env: { CORS_ORIGINS: `${APP},${ADMIN}` } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([APP, ADMIN])('answers a preflight from the listed origin %s with that origin and the four headers', async (origin) => {
    const response = await preflight(t.url, origin);
    expect(response.status).toBeGreaterThanOrEqual(200);
    expect(response.status).toBeLessThan(300);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowedHeaders(response)).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'content-type', 'x-request-id']));
    expect(response.headers.get('access-control-allow-methods')).toContain('POST');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
  });

  it.each([
    'https://evil.example',
    'https://app.example.com.evil.example',
    'http://app.example.com',
    'https://app.example.com:8443',
    'https://sub.app.example.com',
    'null',
    'http://localhost:5173',
  ])('grants nothing to the unlisted origin %s', async (origin) => {
    expectNoGrant(await preflight(t.url, origin));
  });

  it('lets a listed origin read the answer and its x-request-id; an unlisted one gets no grant', async () => {
    const listed = await t.gql(t.keys.viewer, '{ viewer { userId } }', undefined, { origin: APP });
    expect(listed.headers.get('access-control-allow-origin')).toBe(APP);
    expect(listed.headers.get('access-control-expose-headers')).toContain('x-request-id');
    expect(listed.headers.get('vary')).toMatch(/Origin/);
    const unlisted = await t.gql(t.keys.viewer, '{ viewer { userId } }', undefined, { origin: 'https://evil.example' });
    expectNoGrant(new Response(null, { headers: unlisted.headers }));
    expect(unlisted.headers.get('vary')).toMatch(/Origin/);
  });

  it('never answers * and never a wildcard with credentials', async () => {
    const answers = [await preflight(t.url, APP), await preflight(t.url, 'https://evil.example'), await preflight(t.url, '*')];
    for (const answer of answers) expect(answer.headers.get('access-control-allow-origin')).not.toBe('*');
  });
});

describe('by default (no CORS_ORIGINS, not the sandbox)', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
  });
  afterAll(async () => {
    await t?.close();
  });

  it.each([APP, 'http://localhost:3000'])('grants nothing to %s', async (origin) => {
    expectNoGrant(await preflight(t.url, origin));
  });
});

describe('in the sandbox', () => {
  let gateway: GatewayHandle;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-cors-'));
    const config = loadConfig({ NODE_ENV: 'development', SANDBOX: '1', PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'gateway.db'), AUDIT_SIGNING_KEY_FILE: join(dir, 'audit-signing-key.pem'), LOG_LEVEL: 'silent' });
    gateway = await startGateway(config, { worker: false, print: () => {}, logger: createLogger('silent') });
  });
  afterAll(async () => {
    await gateway?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it.each(['http://localhost:5173', 'http://localhost', 'http://127.0.0.1:3000'])('allows the local origin %s', async (origin) => {
    const response = await preflight(gateway.url, origin);
    expect(response.headers.get('access-control-allow-origin')).toBe(origin);
    expect(allowedHeaders(response)).toEqual(expect.arrayContaining(['authorization', 'x-api-key', 'content-type', 'x-request-id']));
  });

  it.each(['http://localhost.evil.example', 'https://evil.example', 'http://evil.example:5173', 'http://localhost:5173.evil.example'])(
    'still grants nothing to %s',
    async (origin) => {
      expectNoGrant(await preflight(gateway.url, origin));
    },
  );
});
