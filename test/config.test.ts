import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, missingCredentials, resolvesToSandbox } from '../src/config.ts';
import { runGateway, startGatewayProcess } from './support/cli.ts';
import { ORG, deletesTo, startTestGateway } from './support/harness.ts';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('applies the defaults of PRODUCT.md to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      production: false,
      port: 4000,
      host: '127.0.0.1',
      databasePath: './data/gateway.db',
      aitronos: { baseUrl: 'https://api.aitronos.com', credential: '' },
      revai: { baseUrl: 'https://api.rev.ai', credential: '' },
      scriptix: { baseUrl: 'https://api.scriptix.io', credential: '' },
      daily: { baseUrl: 'https://api.daily.co/v1', credential: '', customBuckets: [] },
      upstreamTimeoutMs: 5000,
      upstreamMaxAttempts: 20,
      rateLimitPerMinute: 600,
      sandbox: 'auto',
      logLevel: 'info',
      graphiql: true,
      introspection: true,
      corsOrigins: [],
      audit: { signingKeyFile: './data/audit-signing-key.pem', keyName: 'speech-deletion-gateway', logOrigin: 'speech-deletion-gateway' },
    });
    expect(resolvesToSandbox(config)).toBe(true);
    expect(missingCredentials(config)).toEqual(['AITRONOS_API_KEY', 'SCRIPTIX_API_KEY', 'DAILY_API_KEY', 'REVAI_ACCESS_TOKEN']);
  });

  it('turns GraphiQL and introspection off, and never the sandbox on, in production', () => {
    const config = loadConfig({ NODE_ENV: 'production' });
    expect(config).toMatchObject({ production: true, graphiql: false, introspection: false, corsOrigins: [] });
    expect(resolvesToSandbox(config)).toBe(false);
  });

  it('reads what is set, and decides on the sandbox by the credentials', () => {
    const config = loadConfig({
      PORT: '8080',
      DAILY_BASE_URL: 'https://daily.example.com/v1/',
      DAILY_CUSTOM_BUCKETS: 'acme-recordings, acme-backup',
      CORS_ORIGINS: 'https://app.example.com,http://localhost:3000',
      LOG_LEVEL: 'silent',
      AITRONOS_API_KEY: 'k',
    });
    expect(config).toMatchObject({
      port: 8080,
      daily: { baseUrl: 'https://daily.example.com/v1', customBuckets: ['acme-recordings', 'acme-backup'] },
      corsOrigins: ['https://app.example.com', 'http://localhost:3000'],
      logLevel: 'silent',
    });
    // One credential set means the operator meant real providers: no silent sandbox for the rest.
    expect(resolvesToSandbox(config)).toBe(false);
    expect(resolvesToSandbox(loadConfig({ SANDBOX: '1', AITRONOS_API_KEY: 'k' }))).toBe(true);
    expect(resolvesToSandbox(loadConfig({ SANDBOX: '0' }))).toBe(false);
  });

  it.each([
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '70000' }],
    ['UPSTREAM_TIMEOUT_MS', { UPSTREAM_TIMEOUT_MS: '-1' }],
    ['UPSTREAM_MAX_ATTEMPTS', { UPSTREAM_MAX_ATTEMPTS: '0' }],
    ['RATE_LIMIT_PER_MINUTE', { RATE_LIMIT_PER_MINUTE: '1.5' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: '*' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com,*' }],
    ['CORS_ORIGINS', { CORS_ORIGINS: 'https://app.example.com/path' }],
    ['AITRONOS_BASE_URL', { AITRONOS_BASE_URL: 'ftp://x' }],
    ['SCRIPTIX_BASE_URL', { SCRIPTIX_BASE_URL: 'not a url' }],
    ['REVAI_BASE_URL', { REVAI_BASE_URL: 'https://user:pass@api.rev.ai' }],
    ['SANDBOX', { SANDBOX: 'maybe' }],
    ['SANDBOX', { SANDBOX: '1', NODE_ENV: 'production' }],
    ['GRAPHIQL', { GRAPHIQL: 'sometimes' }],
    ['INTROSPECTION', { INTROSPECTION: '2' }],
    ['HOST', { HOST: 'bad host' }],
    ['DAILY_CUSTOM_BUCKETS', { DAILY_CUSTOM_BUCKETS: 'Not_A_Bucket' }],
    ['AUDIT_KEY_NAME', { AUDIT_KEY_NAME: 'two words' }],
    ['AUDIT_KEY_NAME', { AUDIT_KEY_NAME: 'name+with+plus' }],
    ['AUDIT_KEY_NAME', { AUDIT_LOG_ORIGIN: 'gateway of acme' }],
    ['AUDIT_LOG_ORIGIN', { AUDIT_LOG_ORIGIN: 'two\nlines' }],
    ['AUDIT_LOG_ORIGIN', { AUDIT_LOG_ORIGIN: 'tab\there', AUDIT_KEY_NAME: 'k' }],
    ['AUDIT_LOG_ORIGIN', { AUDIT_LOG_ORIGIN: 'example.com/logs/' }],
  ])('refuses a bad %s with a ConfigError naming it (%j)', (variable, env) => {
    const error = configError(env);
    expect(error.variable).toBe(variable);
    expect(error.message.startsWith(`${variable}: `)).toBe(true);
  });

  it('names the audit key after the log origin unless AUDIT_KEY_NAME is set', () => {
    expect(loadConfig({ AUDIT_LOG_ORIGIN: 'example.com/deletions', AUDIT_SIGNING_KEY_FILE: '/etc/sdg/key.pem' }).audit).toEqual({
      signingKeyFile: '/etc/sdg/key.pem',
      keyName: 'example.com/deletions',
      logOrigin: 'example.com/deletions',
    });
    // An origin that is no key name is fine once the key has a name of its own.
    expect(loadConfig({ AUDIT_LOG_ORIGIN: 'gateway of acme', AUDIT_KEY_NAME: 'acme-2026' }).audit).toMatchObject({ keyName: 'acme-2026', logOrigin: 'gateway of acme' });
  });

  it('selects PostgreSQL with DATABASE_URL, refuses it together with DATABASE_PATH naming both, and never echoes its password', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://gw:s3cret@db.internal:5432/gateway', DATABASE_POOL_SIZE: '25' }).database).toEqual({
      url: 'postgres://gw:s3cret@db.internal:5432/gateway',
      poolSize: 25,
    });
    expect(loadConfig({}).database).toEqual({ path: './data/gateway.db' });
    const both = configError({ DATABASE_URL: 'postgres://gw:s3cret@db/gateway', DATABASE_PATH: './data/x.db' });
    expect(both.variable).toBe('DATABASE_URL');
    expect(both.message).toContain('DATABASE_PATH');
    for (const value of ['mysql://gw:s3cret@db/gateway', 'postgres://gw:s3cret@db', 'postgres://gw:s3cret@db:99999/x', 'not a url s3cret']) {
      const error = configError({ DATABASE_URL: value });
      expect(error.variable).toBe('DATABASE_URL');
      expect(error.message).not.toContain('s3cret');
    }
    expect(configError({ DATABASE_URL: 'postgres://db/gateway', DATABASE_POOL_SIZE: '0' }).variable).toBe('DATABASE_POOL_SIZE');
  });

  it('does not echo a credential put into a base URL, even one that does not parse', () => {
    for (const value of ['https://user:hunter2@api.rev.ai', 'https://user:hunter2@api rev.ai', 'ftp://user:hunter2@api.rev.ai']) {
      const error = configError({ REVAI_BASE_URL: value });
      expect(error.variable).toBe('REVAI_BASE_URL');
      expect(error.message).not.toContain('hunter2');
    }
  });
});

describe('gateway serve refuses to start on bad configuration', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gateway-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits non-zero naming PORT for PORT=abc, and naming a missing credential in production or with SANDBOX=0', async () => {
    const db = (name: string) => join(dir, `${name}.db`);
    const [badPort, production, partial, noSandbox] = await Promise.all([
      runGateway(['serve'], { PORT: 'abc', DATABASE_PATH: db('port') }),
      runGateway(['serve'], { NODE_ENV: 'production', PORT: '0', DATABASE_PATH: db('production') }),
      runGateway(['serve'], {
        NODE_ENV: 'production',
        PORT: '0',
        DATABASE_PATH: db('partial'),
        AITRONOS_API_KEY: 'prod-aitronos-secret',
        SCRIPTIX_API_KEY: 'prod-scriptix-secret',
        DAILY_API_KEY: 'prod-daily-secret',
      }),
      runGateway(['serve'], { SANDBOX: '0', PORT: '0', DATABASE_PATH: db('nosandbox') }),
    ]);
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toMatch(/\bPORT\b.*abc/);

    for (const refused of [production, noSandbox]) {
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/AITRONOS_API_KEY|SCRIPTIX_API_KEY|DAILY_API_KEY|REVAI_ACCESS_TOKEN/);
      // Never a silent fallback: no simulators, no demo keys, nothing listening.
      expect(refused.stdout).not.toMatch(/SANDBOX|sdg_|listening/);
    }
    expect(partial.code).not.toBe(0);
    expect(partial.stderr).toMatch(/REVAI_ACCESS_TOKEN/);
    expect(partial.stderr + partial.stdout).not.toMatch(/prod-\w+-secret/);
  });
});

describe('gateway worker', () => {
  it('stays up on its own, delivers a deletion the request could not, and exits 0 on SIGTERM', async () => {
    const t = await startTestGateway();
    try {
      await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_later', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
      t.simulators.aitronos.pushFault({ status: 503, path: '/v1/audio/transcribe/trans_later' });
      const status = async () =>
        (await t.gql(t.keys.member, '{ resource(kind: TRANSCRIPTION, id: "trans_later") { upstream { status attempts } } }')).body.data!.resource.upstream;
      const answer = await t.gql(t.keys.member, 'mutation { deleteTranscription(transcriptionId: "trans_later") { __typename } }');
      expect(answer.body.data!.deleteTranscription.__typename).toBe('TranscriptionDeletion');
      expect(await status()).toMatchObject({ status: 'PENDING', attempts: 1 });

      const { aitronos, scriptix, daily, revai } = t.config;
      const worker = startGatewayProcess(['worker'], {
        ...t.database.env,
        UPSTREAM_TIMEOUT_MS: '1000',
        AITRONOS_BASE_URL: aitronos.baseUrl,
        AITRONOS_API_KEY: aitronos.credential,
        SCRIPTIX_BASE_URL: scriptix.baseUrl,
        SCRIPTIX_API_KEY: scriptix.credential,
        DAILY_BASE_URL: daily.baseUrl,
        DAILY_API_KEY: daily.credential,
        REVAI_BASE_URL: revai.baseUrl,
        REVAI_ACCESS_TOKEN: revai.credential,
      });
      try {
        await worker.waitFor(/"msg":"provider call"/);
        expect(deletesTo(t.simulators.aitronos, '/v1/audio/transcribe/trans_later')).toHaveLength(2);
        expect(await status()).toMatchObject({ status: 'DELETED', attempts: 2 });
        worker.child.kill('SIGTERM');
        expect(await worker.exited(20_000)).toMatchObject({ code: 0, signal: null });
      } finally {
        if (worker.child.exitCode === null) worker.child.kill('SIGKILL');
      }
    } finally {
      await t.close();
    }
  });
});
