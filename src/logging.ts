// Structured JSON logs (pino). Credentials are redacted by path wherever they could appear, strings
// shaped like a gateway key or a bearer credential are masked wherever they appear, and the code
// never logs a header, a key or a provider credential in the first place.
import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from './config.ts';
import { maskSecrets } from './auth/keys.ts';

export const REDACTED_PATHS = [
  'authorization',
  'Authorization',
  '*.authorization',
  '*.Authorization',
  'x-api-key',
  '*["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'headers.cookie',
  '*.headers.authorization',
  '*.headers["x-api-key"]',
  '*.headers.cookie',
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers.cookie',
  'apiKey',
  '*.apiKey',
  'key',
  '*.key',
  'credential',
  '*.credential',
  'credentials',
  '*.credentials',
  'accessToken',
  '*.accessToken',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'password',
  '*.password',
];

const CENSOR = '[redacted]';

function scrub(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    return maskSecrets(value, CENSOR);
  }
  if (depth > 4 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { type: value.name, message: scrub(value.message, depth), stack: scrub(value.stack, depth) };
  if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [field, item] of Object.entries(value)) out[field] = scrub(item, depth + 1);
  return out;
}

export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'speech-deletion-gateway' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_PATHS, censor: CENSOR },
      formatters: {
        level: (label) => ({ level: label }),
        // A second net under the redaction paths: an error message that quotes a header still leaks nothing.
        log: (object) => scrub(object, 0) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const [first, ...rest] = args;
          if (typeof first === 'string') return method.apply(this, [scrub(first, 0) as string, ...rest]);
          if (typeof rest[0] === 'string') return method.apply(this, [first, scrub(rest[0], 0) as string, ...rest.slice(1)]);
          return method.apply(this, args);
        },
      },
    },
    destination,
  );
}

export type { Logger };
