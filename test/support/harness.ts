// Starts what a test needs, all real: the provider simulators on 127.0.0.1, the gateway (yoga on
// node:http) on a fresh database through the real migrations, and API keys for two organisations.
// The audit signing key lives in the test database's temp directory (see TestDatabase.env).
import { Writable } from 'node:stream';
import { startGateway, type GatewayHandle, type GatewayOptions } from '../../src/app.ts';
import { generateSigningKeyPem } from '../../src/audit/note.ts';
import { writeNewKeyFile } from '../../src/audit/signing-key.ts';
import { createKey } from '../../src/auth/keys.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { registerResources, type ResourceInputValue } from '../../src/catalog/register.ts';
import { createLogger } from '../../src/logging.ts';
import { systemRuntime } from '../../src/runtime.ts';
import { startSimulators, type Simulators } from '../../src/simulators/launcher.ts';
import { createTestDatabase, execute, query, type TestDatabase } from './database.ts';

/** Fake provider credentials: tests assert they are sent, and that they never leak. */
export const TEST_CREDENTIALS = {
  aitronosApiKey: 'test-aitronos-secret-5f2c',
  scriptixApiKey: 'test-scriptix-secret-91ab',
  dailyApiKey: 'test-daily-secret-7d3e',
  revaiAccessToken: 'test-revai-secret-c0de',
};
export const CUSTOM_BUCKET = 'acme-recordings';
export const ORG = 'org_a';
export const OTHER_ORG = 'org_b';

/** The provider half of a test gateway's environment: the simulators and the test credentials. */
export function providerEnv(simulators: Simulators): Record<string, string> {
  return {
    AITRONOS_BASE_URL: simulators.baseUrls.aitronos,
    AITRONOS_API_KEY: TEST_CREDENTIALS.aitronosApiKey,
    SCRIPTIX_BASE_URL: simulators.baseUrls.scriptix,
    SCRIPTIX_API_KEY: TEST_CREDENTIALS.scriptixApiKey,
    DAILY_BASE_URL: simulators.baseUrls.daily,
    DAILY_API_KEY: TEST_CREDENTIALS.dailyApiKey,
    DAILY_CUSTOM_BUCKETS: CUSTOM_BUCKET,
    REVAI_BASE_URL: simulators.baseUrls.revai,
    REVAI_ACCESS_TOKEN: TEST_CREDENTIALS.revaiAccessToken,
    UPSTREAM_TIMEOUT_MS: '1000',
  };
}

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] };
}

export interface TestGateway {
  gateway: GatewayHandle;
  simulators: Simulators;
  config: Config;
  url: string;
  /** The database this gateway uses (a SQLite file, or a PostgreSQL database of its own). */
  database: TestDatabase;
  /** The SQLite file; null on PostgreSQL. */
  dbPath: string | null;
  /** Every log line the gateway wrote (JSON strings). */
  logs: string[];
  /** Keys of org_a: admin alice, member bob, member carol, viewer victor; org_b: admin olga, member oscar. */
  keys: Record<'admin' | 'member' | 'member2' | 'viewer' | 'otherAdmin' | 'otherMember', string>;
  gql<T = Record<string, any>>(key: string | null, query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResponse<T>>;
  /** Registers resources straight through the catalog (as the operator CLI would). */
  register(resources: ResourceInputValue[]): Promise<void>;
  /** Rows of a read query (`?` placeholders), on the gateway's own database. */
  sql<T = Record<string, any>>(text: string, params?: unknown[]): Promise<T[]>;
  /** A write statement on the gateway's database, outside the gateway's code. */
  sqlRun(text: string, params?: unknown[]): Promise<number>;
  close(): Promise<void>;
}

export interface TestGatewayOptions extends Omit<GatewayOptions, 'logger' | 'print'> {
  env?: Record<string, string>;
  /** Reuse a database (restart tests); it is then not disposed of on close. */
  database?: TestDatabase;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const simulators = await startSimulators({ credentials: TEST_CREDENTIALS, dailyCustomBucket: CUSTOM_BUCKET });
  const database = options.database ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    ...database.env,
    LOG_LEVEL: 'debug',
    SANDBOX: '0',
    ...providerEnv(simulators),
    ...options.env,
  });
  // Production requires the signing key to exist: provision it, as an operator would with keygen.
  if (config.production) writeNewKeyFile(config.audit.signingKeyFile, generateSigningKeyPem());
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const { env: _env, database: _database, ...gatewayOptions } = options;
  const gateway = await startGateway(config, {
    worker: false,
    ...gatewayOptions,
    logger: createLogger(config.logLevel, sink),
    print: (text) => logs.push(text),
  });
  const runtime = options.runtime ?? systemRuntime;
  const key = async (organizationId: string, userId: string, role: string) => (await createKey(gateway.db, runtime, { organizationId, userId, role })).key;
  const keys = {
    admin: await key(ORG, 'alice', 'admin'),
    member: await key(ORG, 'bob', 'member'),
    member2: await key(ORG, 'carol', 'member'),
    viewer: await key(ORG, 'victor', 'viewer'),
    otherAdmin: await key(OTHER_ORG, 'olga', 'admin'),
    otherMember: await key(OTHER_ORG, 'oscar', 'member'),
  };
  const url = gateway.url;
  return {
    gateway,
    simulators,
    config: gateway.config,
    url,
    database,
    dbPath: database.path,
    logs,
    keys,
    async gql(key, query, variables, headers = {}) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/graphql-response+json, application/json',
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, headers: response.headers, body: (await response.json()) as never };
    },
    async register(resources) {
      const result = await registerResources(gateway.db, runtime, { operator: true }, { traceId: 'test', now: new Date() }, resources);
      if ('__typename' in result) throw new Error(`register failed: ${result.message}`);
    },
    sql: (text, params = []) => query(gateway.db, text, params),
    sqlRun: (text, params = []) => execute(gateway.db, text, params),
    async close() {
      await gateway.close();
      await simulators.stop();
      if (!options.database) await database.dispose();
    },
  };
}

/** DELETE requests a simulator received for one resource path. */
export function deletesTo<R extends { method: string; path: string }>(simulator: { requests: R[] }, path: string): R[] {
  return simulator.requests.filter((r) => r.method === 'DELETE' && r.path === path);
}
