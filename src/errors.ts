// Every error the gateway answers with, created here. Expected failures are values (members of a
// mutation's result union, with the seeds' envelope fields); the few request-level failures are
// top-level GraphQL errors with a stable `extensions.code`.
import { createGraphQLError } from 'graphql-yoga';

export interface ErrorEnvelope {
  code: string;
  message: string;
  systemMessage: string | null;
  type: string;
  status: number;
  details: Record<string, unknown> | null;
  traceId: string;
  timestamp: string;
}

export type NotFoundError = ErrorEnvelope & { __typename: 'NotFoundError' };
export type PermissionDeniedError = ErrorEnvelope & { __typename: 'PermissionDeniedError' };
export type ValidationError = ErrorEnvelope & { __typename: 'ValidationError'; field: string | null };
export type GatewayError = NotFoundError | PermissionDeniedError | ValidationError;

export interface ErrorScope {
  traceId: string;
  now: Date;
}

export function notFound(scope: ErrorScope, systemMessage: string, details: Record<string, unknown> | null = null): NotFoundError {
  return {
    __typename: 'NotFoundError',
    code: 'NOT_FOUND',
    message: "We couldn't find the resource you're looking for.",
    systemMessage,
    type: 'client_error',
    status: 404,
    details,
    traceId: scope.traceId,
    timestamp: scope.now.toISOString(),
  };
}

export function permissionDenied(
  scope: ErrorScope,
  systemMessage: string,
  details: Record<string, unknown> | null = null,
): PermissionDeniedError {
  return {
    __typename: 'PermissionDeniedError',
    code: 'INSUFFICIENT_PERMISSIONS',
    message: "You don't have permission to do this.",
    systemMessage,
    type: 'authorization_error',
    status: 403,
    details,
    traceId: scope.traceId,
    timestamp: scope.now.toISOString(),
  };
}

export function validation(
  scope: ErrorScope,
  field: string | null,
  message: string,
  details: Record<string, unknown> | null = null,
): ValidationError {
  return {
    __typename: 'ValidationError',
    code: 'VALIDATION_ERROR',
    message,
    systemMessage: field ? `Invalid value for "${field}"` : 'Invalid input',
    type: 'client_error',
    status: 400,
    details,
    traceId: scope.traceId,
    timestamp: scope.now.toISOString(),
    field,
  };
}

export function isGatewayError(value: unknown): value is GatewayError {
  const typename = (value as { __typename?: unknown } | null)?.__typename;
  return typename === 'NotFoundError' || typename === 'PermissionDeniedError' || typename === 'ValidationError';
}

// Request-level errors (top-level `errors`, with an HTTP status where PRODUCT.md gives one).

export function authenticationRequired(systemMessage: string) {
  return createGraphQLError('Authentication required. Send a valid API key as "Authorization: Bearer KEY" or "X-API-Key: KEY".', {
    extensions: { code: 'AUTHENTICATION_REQUIRED', systemMessage, http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } },
  });
}

export function adminOnly(what: string) {
  return createGraphQLError(`Only an admin may read ${what}.`, {
    extensions: { code: 'INSUFFICIENT_PERMISSIONS' },
  });
}

export function rateLimited(retryAfterSeconds: number, message = `Too many requests for this key. Try again in ${retryAfterSeconds} s.`) {
  return createGraphQLError(message, {
    extensions: {
      code: 'RATE_LIMITED',
      retryAfter: retryAfterSeconds,
      http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
    },
  });
}

/** A bad argument of a query that has no result union (pagination): code VALIDATION_ERROR, like ValidationError. */
export function badUserInput(message: string, field?: string) {
  return createGraphQLError(message, { extensions: { code: 'VALIDATION_ERROR', ...(field ? { field } : {}) } });
}

// Subscriptions (src/graphql/live.ts). Refused before the stream starts: the HTTP status is the
// error's (429, 503); on an accepted stream: a `next` carrying the error, then `complete`.

/** A missing resource and another organisation's read the same: never reveal it exists elsewhere. */
export function resourceNotFound() {
  return createGraphQLError("We couldn't find the resource you're looking for.", { extensions: { code: 'NOT_FOUND' } });
}

export function tooManyStreams(max: number, retryAfterSeconds: number) {
  return rateLimited(retryAfterSeconds, `At most ${max} subscriptions may be open at once per API key (per gateway process). Close one, or try again in ${retryAfterSeconds} s.`);
}

export function shuttingDown() {
  return createGraphQLError('The gateway is shutting down. Try again in a moment.', {
    extensions: { code: 'SERVICE_UNAVAILABLE', http: { status: 503, headers: { 'retry-after': '1' } } },
  });
}
