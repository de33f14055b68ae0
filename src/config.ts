// Environment → one typed, validated Config. The only module that reads process.env (main.ts passes it in).
import { isValidKeyName } from './audit/note.ts';
import type { Provider } from './domain.ts';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ProviderEndpoint {
  baseUrl: string;
  /** Empty when not configured; sandbox fills it, production refuses to start without it. */
  credential: string;
}

/** Where the data lives: a SQLite file (the embedded default) or a PostgreSQL server. */
export type DatabaseTarget = { path: string } | { url: string; poolSize: number };

export interface Config {
  nodeEnv: string;
  production: boolean;
  port: number;
  host: string;
  /** DATABASE_PATH (SQLite) or DATABASE_URL (PostgreSQL); never both. */
  database: DatabaseTarget;
  /** The SQLite file when `database` is SQLite (kept for messages and tests). */
  databasePath: string;
  aitronos: ProviderEndpoint;
  scriptix: ProviderEndpoint;
  daily: ProviderEndpoint & { customBuckets: string[] };
  revai: ProviderEndpoint;
  upstreamTimeoutMs: number;
  upstreamMaxAttempts: number;
  /** How long a Rev AI job may stay in progress before the deletion is given up. */
  jobInProgressDeadlineMs: number;
  rateLimitPerMinute: number;
  /** 'auto' decides at start: sandbox when no credential is set and not production. */
  sandbox: 'auto' | 'on' | 'off';
  logLevel: LogLevel;
  graphiql: boolean;
  introspection: boolean;
  corsOrigins: string[];
  /** Whether the retry worker runs inside `serve`. */
  workerInServe: boolean;
  /** Signed checkpoints of the audit logs (PRODUCT.md "Proof a deletion happened"). */
  audit: AuditSigningConfig;
}

export interface AuditSigningConfig {
  /** AUDIT_SIGNING_KEY_FILE: the Ed25519 private key, PKCS#8 PEM (read at start, never logged). */
  signingKeyFile: string;
  /** AUDIT_KEY_NAME: the signed-note key name (default: the origin). */
  keyName: string;
  /** AUDIT_LOG_ORIGIN: a log's checkpoint origin is `{logOrigin}/{organizationId}`. */
  logOrigin: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[name];
  return value === undefined || value.trim() === '' ? fallback : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${value}`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(name, `must be 1/0, true/false, yes/no or on/off, got "${env[name]}"`);
}

function url(env: Env, name: string, fallback: string): string {
  const raw = text(env, name, fallback);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // A base URL is where an operator may paste `user:password@`: never echo that part.
    const shown = raw.replace(/^([^:/]*:\/\/)[^/]*@/, '$1…@');
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${shown}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(name, `must use http or https, got "${parsed.protocol}"`);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new ConfigError(name, 'must not carry credentials, a query string or a fragment');
  }
  return raw.replace(/\/+$/, '');
}

function list(env: Env, name: string): string[] {
  return text(env, name, '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function origins(env: Env, name: string): string[] {
  return list(env, name).map((origin) => {
    let parsed: URL;
    try {
      parsed = new URL(origin);
    } catch {
      throw new ConfigError(name, `"${origin}" is not an origin like https://app.example.com`);
    }
    if (origin === '*' || parsed.origin !== origin) {
      throw new ConfigError(name, `"${origin}" is not an exact origin like https://app.example.com (no path, no *)`);
    }
    return origin;
  });
}

function databaseTarget(env: Env, path: string): DatabaseTarget {
  const raw = env.DATABASE_URL?.trim();
  if (raw === undefined || raw === '') return { path };
  if (env.DATABASE_PATH !== undefined && env.DATABASE_PATH.trim() !== '') {
    throw new ConfigError('DATABASE_URL', 'and DATABASE_PATH are both set; set DATABASE_URL for PostgreSQL or DATABASE_PATH for SQLite, not both');
  }
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    // Not echoed: a database URL holds a password, and one that does not parse cannot be trimmed of it.
    throw new ConfigError('DATABASE_URL', 'must be a URL like postgres://user:password@host:5432/database (the value set does not parse; it is not shown)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must start with postgres:// or postgresql://, got "${parsed.protocol}//…"`);
  }
  if (parsed.pathname.replace(/^\//, '') === '') throw new ConfigError('DATABASE_URL', 'must name a database (postgres://…/DATABASE)');
  return { url: raw, poolSize: integer(env, 'DATABASE_POOL_SIZE', 10, 1, 1000) };
}

function auditSigning(env: Env): AuditSigningConfig {
  const logOrigin = text(env, 'AUDIT_LOG_ORIGIN', 'speech-deletion-gateway');
  // The origin is the first line of every checkpoint: one line of printable text, as tlog-checkpoint asks.
  if (/[\u0000-\u001f\u007f]/.test(logOrigin) || Buffer.from(logOrigin, 'utf8').toString('utf8') !== logOrigin) {
    throw new ConfigError('AUDIT_LOG_ORIGIN', 'must be one line of printable text (no newline or other control character)');
  }
  if (logOrigin.length > 200) throw new ConfigError('AUDIT_LOG_ORIGIN', `must be at most 200 characters, got ${logOrigin.length}`);
  if (logOrigin.endsWith('/')) throw new ConfigError('AUDIT_LOG_ORIGIN', 'must not end with "/" (a log\'s origin is AUDIT_LOG_ORIGIN/ORGANIZATION)');
  const named = env.AUDIT_KEY_NAME !== undefined && env.AUDIT_KEY_NAME.trim() !== '';
  const keyName = text(env, 'AUDIT_KEY_NAME', logOrigin);
  if (!isValidKeyName(keyName)) {
    const rule = 'a signed-note key name: non-empty, no spaces, no "+", no control characters';
    throw new ConfigError(
      'AUDIT_KEY_NAME',
      named ? `must be ${rule}, got ${JSON.stringify(keyName)}` : `is unset, so it defaults to AUDIT_LOG_ORIGIN ${JSON.stringify(logOrigin)}, which is not ${rule}; set AUDIT_KEY_NAME`,
    );
  }
  return { signingKeyFile: text(env, 'AUDIT_SIGNING_KEY_FILE', './data/audit-signing-key.pem'), keyName, logOrigin };
}

export function loadConfig(env: Env): Config {
  const nodeEnv = text(env, 'NODE_ENV', 'development');
  const production = nodeEnv === 'production';
  const sandboxRaw = env.SANDBOX?.trim();
  let sandbox: Config['sandbox'] = 'auto';
  if (sandboxRaw !== undefined && sandboxRaw !== '') sandbox = flag(env, 'SANDBOX', false) ? 'on' : 'off';
  if (sandbox === 'on' && production) throw new ConfigError('SANDBOX', 'the sandbox cannot run with NODE_ENV=production');

  const logLevel = text(env, 'LOG_LEVEL', 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}`);

  const host = text(env, 'HOST', '127.0.0.1');
  if (!/^[A-Za-z0-9.:[\]-]+$/.test(host)) throw new ConfigError('HOST', `"${host}" is not a host name or address`);

  const upstreamTimeoutMs = integer(env, 'UPSTREAM_TIMEOUT_MS', 5000, 50, 120_000);
  const databasePath = text(env, 'DATABASE_PATH', './data/gateway.db');
  const config: Config = {
    nodeEnv,
    production,
    port: integer(env, 'PORT', 4000, 0, 65535),
    host,
    database: databaseTarget(env, databasePath),
    databasePath,
    aitronos: { baseUrl: url(env, 'AITRONOS_BASE_URL', 'https://api.aitronos.com'), credential: text(env, 'AITRONOS_API_KEY', '') },
    scriptix: { baseUrl: url(env, 'SCRIPTIX_BASE_URL', 'https://api.scriptix.io'), credential: text(env, 'SCRIPTIX_API_KEY', '') },
    daily: {
      baseUrl: url(env, 'DAILY_BASE_URL', 'https://api.daily.co/v1'),
      credential: text(env, 'DAILY_API_KEY', ''),
      customBuckets: list(env, 'DAILY_CUSTOM_BUCKETS'),
    },
    revai: { baseUrl: url(env, 'REVAI_BASE_URL', 'https://api.rev.ai'), credential: text(env, 'REVAI_ACCESS_TOKEN', '') },
    upstreamTimeoutMs,
    upstreamMaxAttempts: integer(env, 'UPSTREAM_MAX_ATTEMPTS', 20, 1, 1000),
    jobInProgressDeadlineMs: integer(env, 'UPSTREAM_JOB_IN_PROGRESS_DEADLINE_HOURS', 168, 1, 24 * 365) * 3_600_000,
    rateLimitPerMinute: integer(env, 'RATE_LIMIT_PER_MINUTE', 600, 1, 1_000_000),
    sandbox,
    logLevel,
    graphiql: flag(env, 'GRAPHIQL', !production),
    introspection: flag(env, 'INTROSPECTION', !production),
    corsOrigins: origins(env, 'CORS_ORIGINS'),
    workerInServe: flag(env, 'WORKER_IN_SERVE', true),
    audit: auditSigning(env),
  };
  for (const bucket of config.daily.customBuckets) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      throw new ConfigError('DAILY_CUSTOM_BUCKETS', `"${bucket}" is not an S3 bucket name`);
    }
  }
  return config;
}

/** The env variable that holds each provider's credential, for start-up messages. */
export const CREDENTIAL_VARIABLES: Record<'aitronos' | 'scriptix' | 'daily' | 'revai', string> = {
  aitronos: 'AITRONOS_API_KEY',
  scriptix: 'SCRIPTIX_API_KEY',
  daily: 'DAILY_API_KEY',
  revai: 'REVAI_ACCESS_TOKEN',
};

export function missingCredentials(config: Config): string[] {
  return (Object.keys(CREDENTIAL_VARIABLES) as (keyof typeof CREDENTIAL_VARIABLES)[])
    .filter((name) => config[name].credential === '')
    .map((name) => CREDENTIAL_VARIABLES[name]);
}

/** Sandbox when forced, or when nothing is configured outside production. */
export function resolvesToSandbox(config: Config): boolean {
  if (config.sandbox !== 'auto') return config.sandbox === 'on';
  return !config.production && missingCredentials(config).length === Object.keys(CREDENTIAL_VARIABLES).length;
}

export function endpointOf(config: Config, provider: Provider): ProviderEndpoint {
  switch (provider) {
    case 'AITRONOS_AUDIO':
    case 'AITRONOS_MUSIC':
      return config.aitronos;
    case 'SCRIPTIX':
      return config.scriptix;
    case 'DAILY':
      return config.daily;
    case 'REV_AI':
      return config.revai;
  }
}
