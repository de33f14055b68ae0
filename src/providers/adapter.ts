// The one small interface every provider adapter implements: build the request for a resource,
// and recognise the provider's own answers. Adapters hold no state, touch no database and never retry.
import { isObject, type Provider, type ResourceKind } from '../domain.ts';

/** What an adapter needs to know about the resource being deleted upstream. */
export interface UpstreamTarget {
  kind: ResourceKind;
  id: string;
  provider: Provider;
  organizationId: string;
  sessionId: string | null;
  documentId: string | null;
  /** The catalog's provider attributes (an Aitronos track's `aitronosOrganizationId`). */
  attributes?: Record<string, unknown> | null;
}

export interface ProviderRequest {
  /** Path below the provider's base URL; every id in it already validated and encoded. */
  path: string;
  headers: Record<string, string>;
}

export interface ProviderResponse {
  status: number;
  contentType: string;
  retryAfter: string | null;
  text: string;
  /** The parsed body when it is JSON, else undefined. */
  json: unknown;
  /** Only the response headers the adapter names in `responseHeaders` (lower-case), first value each. */
  headers: Record<string, string>;
}

/** What a provider said about its own answer, for support: its id of the answer, its error code. */
export interface ProviderDiagnostics {
  requestId?: string | null;
  errorCode?: string | null;
}

export type UpstreamOutcome = (
  | { status: 'DELETED'; httpStatus: number | null; reason: string | null; result: Record<string, unknown> | null }
  | {
      status: 'PENDING';
      httpStatus: number | null;
      reason: string;
      error: string;
      /** The provider asked for at least this long (Retry-After). */
      retryAfterMs: number | null;
      /** No provider call was made (its circuit was open): the attempt counted for it is given back. */
      notCalled?: true;
    }
  | {
      status: 'FAILED';
      httpStatus: number | null;
      reason: string;
      error: string;
      /** What the provider said that matters even though it failed (Daily's job body reporting an error). */
      result?: Record<string, unknown> | null;
    }
) & {
  /** The provider's id of this answer (a body field or an x-request-id header); null when not given. */
  providerRequestId?: string | null;
  /** The provider's own error code of this answer; null when not given. */
  providerErrorCode?: string | null;
};

export interface Adapter {
  provider: Provider;
  /** Which header carries the credential: for redaction and for tests. */
  authHeader: 'authorization' | 'x-api-key';
  request(target: UpstreamTarget, credential: string): ProviderRequest;
  /**
   * A 2xx answer: what to keep of it, or an outcome when the body is not the provider's (a proxy
   * page answering 200 must not read as a completed deletion).
   */
  accepted(response: ProviderResponse): { result: Record<string, unknown> | null; reason: string | null } | UpstreamOutcome;
  /** Whether a 404 is the provider's own "no such resource" (else it is a route miss or a proxy). */
  isOwnNotFound(response: ProviderResponse): boolean;
  /** Provider-specific answers that the generic mapping would get wrong (Rev AI 409, Scriptix 400). */
  special?(target: UpstreamTarget, response: ProviderResponse): UpstreamOutcome | null;
  /** Response headers the adapter reads (lower-case); no other header reaches it. */
  responseHeaders?: readonly string[];
  /** The provider's request id and error code in any answer (2xx or not), for support. */
  diagnostics?(response: ProviderResponse): ProviderDiagnostics;
}

/** A path segment from an id: ids are validated before this, encoding is the second fence. */
export function segment(id: string): string {
  return encodeURIComponent(id);
}

export function bearer(credential: string): Record<string, string> {
  return { authorization: `Bearer ${credential}` };
}

/** Aitronos (audio and music) error envelope: `{ success: false, error: { status, … } }` (seeds 000/003). */
export function isAitronosError(json: unknown, status: number): boolean {
  return isObject(json) && json.success === false && isObject(json.error) && json.error.status === status;
}

export function unrecognized(response: ProviderResponse, what: string): UpstreamOutcome {
  return {
    status: 'FAILED',
    httpStatus: response.status,
    reason: 'UNRECOGNIZED_RESPONSE',
    error: `HTTP ${response.status} was not ${what}`,
  };
}

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Aitronos (both APIs): `metadata.request_id` on success; `error.trace_id` and `error.code` on an error. */
export function aitronosDiagnostics(response: ProviderResponse): ProviderDiagnostics {
  const body = response.json;
  if (!isObject(body)) return {};
  if (isObject(body.error)) return { requestId: text(body.error.trace_id), errorCode: text(body.error.code) };
  return { requestId: isObject(body.metadata) ? text(body.metadata.request_id) : null };
}

/** The `x-request-id` response header (Daily, Rev AI, Scriptix), when the adapter asked for it. */
export const REQUEST_ID_HEADER = 'x-request-id';

export function requestIdHeader(response: ProviderResponse): string | null {
  return response.headers[REQUEST_ID_HEADER] ?? null;
}

/** The diagnostics of an outcome as audit `details` keys, only those present. */
export function diagnosticDetails(outcome: UpstreamOutcome): Record<string, string> {
  return {
    ...(outcome.providerRequestId ? { providerRequestId: outcome.providerRequestId } : {}),
    ...(outcome.providerErrorCode ? { providerErrorCode: outcome.providerErrorCode } : {}),
  };
}
