// The one HTTP client every provider call goes through: keep-alive pool, timeout, bounded body,
// and the mapping of PRODUCT.md from an answer (or no answer) to DELETED / PENDING / FAILED.
// Nothing here logs or returns a header: credentials stay inside the request.
import { Agent, errors as undiciErrors } from 'undici';
import { endpointOf, type Config } from '../config.ts';
import { ID_PATTERN } from '../domain.ts';
import type { Clock } from '../runtime.ts';
import type { Adapter, ProviderResponse, UpstreamOutcome, UpstreamTarget } from './adapter.ts';
import { ADAPTERS } from './registry.ts';

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Provider calls in flight at once, per provider, per caller: the worker's default, and the bound a
 * call of many targets (deleteResources) keeps to, so one request cannot flood a provider.
 */
export const CALLS_PER_PROVIDER = 16;

export interface ProviderCall {
  outcome: UpstreamOutcome;
  latencyMs: number;
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now; null when absent or unreadable. */
export function parseRetryAfter(value: string | null, now: Date): number | null {
  if (value === null || value.trim() === '') return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Math.min(Number(trimmed), 86_400) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.min(Math.max(0, at - now.getTime()), 86_400_000);
}

/** A short, secret-free summary of what the provider said, for `lastError`. */
function describe(response: ProviderResponse): string {
  const json = response.json as Record<string, unknown> | undefined;
  let message: unknown;
  if (json && typeof json === 'object') {
    const error = json.error;
    if (error && typeof error === 'object') {
      const envelope = error as Record<string, unknown>;
      message = envelope.system_message ?? envelope.message ?? envelope.code;
    } else {
      message = json.title ?? json.detail ?? json.info ?? error ?? json.message;
    }
  }
  const text = typeof message === 'string' ? message : response.text.replace(/\s+/g, ' ');
  return `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

/** A provider's id or code as kept for support: printable ASCII, bounded; anything else is dropped. */
const DIAGNOSTIC_PATTERN = /^[\x21-\x7e]{1,128}$/;

function diagnostic(value: string | null | undefined, credential: string): string | null {
  if (typeof value !== 'string') return null;
  const trimmed = value.trim();
  if (!DIAGNOSTIC_PATTERN.test(trimmed)) return null;
  // A provider echoing the credential back must not carry it into the database or the trail.
  return credential && trimmed.includes(credential) ? null : trimmed;
}

/** The mapping of an answer, with the provider's request id and error code of that answer. */
export function classify(
  adapter: Adapter,
  target: UpstreamTarget,
  response: ProviderResponse,
  now: Date,
  credential = '',
): UpstreamOutcome {
  const outcome = mapAnswer(adapter, target, response, now);
  const found = adapter.diagnostics?.(response);
  outcome.providerRequestId = diagnostic(found?.requestId, credential);
  outcome.providerErrorCode = diagnostic(found?.errorCode, credential);
  return outcome;
}

function mapAnswer(adapter: Adapter, target: UpstreamTarget, response: ProviderResponse, now: Date): UpstreamOutcome {
  const special = adapter.special?.(target, response);
  if (special) {
    if (special.status === 'PENDING' && special.retryAfterMs === null) special.retryAfterMs = parseRetryAfter(response.retryAfter, now);
    return special;
  }
  const status = response.status;
  if (status >= 200 && status < 300) {
    const accepted = adapter.accepted(response);
    if ('status' in accepted) return accepted;
    return { status: 'DELETED', httpStatus: status, reason: accepted.reason, result: accepted.result };
  }
  if (status === 404) {
    // Only the provider's own "not found" proves absence; a proxy page or a wrong base URL must not.
    return adapter.isOwnNotFound(response)
      ? { status: 'DELETED', httpStatus: 404, reason: 'ALREADY_ABSENT', result: null }
      : { status: 'FAILED', httpStatus: 404, reason: 'UNRECOGNIZED_RESPONSE', error: `${describe(response)} (not the provider's own answer)` };
  }
  if (status === 408 || status === 429 || status >= 500) {
    return {
      status: 'PENDING',
      httpStatus: status,
      reason: status === 429 ? 'RATE_LIMITED' : status === 408 ? 'TIMEOUT' : 'PROVIDER_UNAVAILABLE',
      error: describe(response),
      retryAfterMs: parseRetryAfter(response.retryAfter, now),
    };
  }
  const reason = status === 401 ? 'UNAUTHORIZED' : status === 403 ? 'FORBIDDEN' : status < 500 && status >= 400 ? 'REJECTED' : 'UNRECOGNIZED_RESPONSE';
  return { status: 'FAILED', httpStatus: status, reason, error: describe(response) };
}

function redact(text: string, secret: string): string {
  return secret ? text.split(secret).join('[redacted]') : text;
}

export class ProviderClient {
  private readonly agent: Agent;

  constructor(
    private readonly config: Config,
    private readonly clock: Clock,
  ) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, connect: { timeout: config.upstreamTimeoutMs } });
  }

  /** Sends the DELETE for one resource and maps the answer. Never throws. */
  async deleteUpstream(target: UpstreamTarget): Promise<ProviderCall> {
    const started = performance.now();
    const adapter = ADAPTERS[target.provider];
    const endpoint = endpointOf(this.config, target.provider);
    const outcome = await this.send(adapter, target, endpoint.baseUrl, endpoint.credential);
    if (outcome.status !== 'DELETED') outcome.error = redact(outcome.error, endpoint.credential);
    return { outcome, latencyMs: performance.now() - started };
  }

  private async send(adapter: Adapter, target: UpstreamTarget, baseUrl: string, credential: string): Promise<UpstreamOutcome> {
    // Second fence after the pipeline's validation: no id may change which URL is called.
    for (const id of [target.id, target.organizationId, target.sessionId, target.documentId]) {
      if (id !== null && !ID_PATTERN.test(id)) {
        return { status: 'FAILED', httpStatus: null, reason: 'INVALID_ID', error: 'an id failed validation before the provider call' };
      }
    }
    const base = new URL(baseUrl);
    const request = adapter.request(target, credential);
    // …and every segment of the path the adapter built is one too (its route words are), so a value
    // taken from the catalog's attributes cannot change the URL either.
    if (!request.path.split('/').slice(1).every((part) => ID_PATTERN.test(part))) {
      return { status: 'FAILED', httpStatus: null, reason: 'INVALID_ID', error: 'a path segment failed validation before the provider call' };
    }
    const path = base.pathname.replace(/\/+$/, '') + request.path;
    try {
      const response = await this.agent.request({
        origin: base.origin,
        path,
        method: 'DELETE',
        headers: { ...request.headers, accept: 'application/json' },
        // One deadline for the whole call, from queueing for a connection to the last byte of the body:
        // the outbox row's lease (timeout + margin) must outlive every call, or the worker would call
        // the provider alongside.
        signal: AbortSignal.timeout(this.config.upstreamTimeoutMs),
        headersTimeout: this.config.upstreamTimeoutMs,
        bodyTimeout: this.config.upstreamTimeoutMs,
      });
      const text = await readBounded(response.body);
      const contentType = String(response.headers['content-type'] ?? '');
      let json: unknown;
      if (/json/i.test(contentType) && text !== '') {
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
      }
      const retryAfter = response.headers['retry-after'];
      // Only what the adapter reads: no other response header (a Set-Cookie, say) reaches it.
      const headers: Record<string, string> = {};
      for (const name of adapter.responseHeaders ?? []) {
        const value = response.headers[name];
        const first = Array.isArray(value) ? value[0] : value;
        if (typeof first === 'string') headers[name] = first;
      }
      return classify(
        adapter,
        target,
        { status: response.statusCode, contentType, retryAfter: typeof retryAfter === 'string' ? retryAfter : null, text, json, headers },
        this.clock.now(),
        credential,
      );
    } catch (error) {
      return networkFailure(error, this.config.upstreamTimeoutMs);
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}

async function readBounded(body: AsyncIterable<Buffer | Uint8Array> & { destroy?: () => void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      body.destroy?.();
      break;
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function networkFailure(error: unknown, timeoutMs: number): UpstreamOutcome {
  const name = error instanceof Error ? error.name : '';
  const code = (error as { code?: unknown }).code;
  const timedOut =
    name === 'TimeoutError' ||
    name === 'AbortError' ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError;
  if (timedOut) {
    return { status: 'PENDING', httpStatus: null, reason: 'TIMEOUT', error: `no answer within ${timeoutMs} ms`, retryAfterMs: null };
  }
  return {
    status: 'PENDING',
    httpStatus: null,
    reason: 'CONNECTION_ERROR',
    error: `connection failed${typeof code === 'string' ? ` (${code})` : ''}`,
    retryAfterMs: null,
  };
}
