// Shared core of the provider simulators: a node:http server that records requests, injects
// faults, keeps the "does this resource still exist" state and serves the /__sim/ control API.
// Provider files (aitronos.ts, revai.ts, …) only register routes and their own answers.
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export interface RecordedRequest {
  method: string;
  /** The request target as received (path and query). */
  path: string;
  /** Lower-cased header names, as received. */
  headers: Record<string, string | undefined>;
  /** Status answered; 0 while unanswered (in flight, or hung by a fault). */
  status: number;
  /** Date.now() when the request arrived. */
  at: number;
  /** The id of the answer (`req_…`): Aitronos' request_id / trace_id, the x-request-id header when on. */
  requestId: string;
}

export interface Fault {
  status?: number;
  /** JSON-encoded unless a string. Default: the provider's generic body for `status`. */
  body?: unknown;
  contentType?: string;
  /** Retry-After header value. */
  retryAfter?: string;
  /** Delay before answering (normally, or with the fault's status). */
  latencyMs?: number;
  /** Never answer: the client has to give up, or stop() closes the connection. */
  hang?: boolean;
  /** How many requests it applies to; default 1; Infinity allowed. */
  times?: number;
  /** Only requests whose path starts with this. */
  path?: string;
}

export interface SimResponse {
  status: number;
  /** A string is sent as is; anything else is JSON-encoded; undefined = empty body. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteContext {
  method: string;
  /** Path without the query string; the resource key for state. */
  path: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** Deterministic per simulator (`req_` + 32 hex); reset() restarts the sequence. */
  requestId: string;
  receivedAt: number;
}

export type RouteHandler = (ctx: RouteContext) => SimResponse;
/** Control handlers throw ControlError for a bad request (→ 400). */
export type ControlHandler = (body: unknown, params: Record<string, string>) => SimResponse;

/** `exists` until deleted once (auto-existence); `missing` only through markMissing(). */
export type ResourceState = 'exists' | 'deleted' | 'missing';

export interface SimulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a random free port). */
  port?: number;
  /** Cap on `requests` so long benchmarks do not grow memory without bound. Default 100 000. */
  maxRecordedRequests?: number;
}

export class ControlError extends Error {}

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
export const isWellFormedId = (id: string): boolean => ID_PATTERN.test(id);

const REDACTED_HEADERS = new Set(['authorization', 'x-api-key']);
const MAX_CONTROL_BODY = 64 * 1024;
const MAX_LATENCY_MS = 10 * 60 * 1000;

interface Route {
  method: string;
  regex: RegExp;
  names: string[];
}

type StoredFault = Fault & { times: number };

export class Simulator {
  /** Every non-control request, in arrival order. */
  readonly requests: RecordedRequest[] = [];

  private readonly host: string;
  private readonly port: number;
  private readonly maxRecorded: number;
  private readonly server: http.Server;
  private readonly routes: Array<Route & { handler: RouteHandler }> = [];
  private readonly controlRoutes: Array<Route & { handler: ControlHandler }> = [];
  private readonly faults: StoredFault[] = [];
  private readonly gone = new Map<string, 'deleted' | 'missing'>();
  private readonly deleteCounts = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Whether answers carry an `x-request-id` header; off until switched on (see setRequestIdHeader). */
  private requestIdHeader = false;
  private seq = 0;
  private url: string | undefined;

  /**
   * @param name used to derive request ids, so two simulators do not share them.
   * @param basePath prefix of every provider route (Daily's base URL ends in `/v1`).
   */
  constructor(
    readonly name: string,
    options: SimulatorOptions = {},
    protected readonly basePath = '',
  ) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 0;
    this.maxRecorded = options.maxRecordedRequests ?? 100_000;
    // keepAlive is on by default for HTTP/1.1; noDelay avoids Nagle delays on small answers.
    this.server = http.createServer({ noDelay: true }, (req, res) => this.onRequest(req, res));
    this.registerBuiltinControls();
  }

  // ---- lifecycle -------------------------------------------------------------------------

  /** Listens and resolves with the base URL (no trailing slash). */
  async start(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const { port } = this.server.address() as AddressInfo;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    this.url = `http://${host}:${port}${this.basePath}`;
    return this.url;
  }

  /** Closes the server, including keep-alive and hung connections. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  get baseUrl(): string {
    if (this.url === undefined) throw new Error(`${this.name} simulator is not started`);
    return this.url;
  }

  // ---- state -----------------------------------------------------------------------------

  stateOf(key: string): ResourceState {
    return this.gone.get(key) ?? 'exists';
  }

  markDeleted(key: string): void {
    this.gone.set(key, 'deleted');
  }

  /** Makes the resource at this path not exist (the provider answers its own 404). */
  markMissing(key: string): void {
    this.gone.set(key, 'missing');
  }

  /** Resource path → number of 2xx answers produced for DELETEs on it. */
  successfulDeletes(): Map<string, number> {
    return new Map(this.deleteCounts);
  }

  /**
   * Makes every answer (provider routes and faults) carry `x-request-id: req_…`, the id of that
   * answer. None of the seeds documents such a header; it is a switch so a gateway's reading of it
   * can be seen and tested, not a claim about the real APIs.
   */
  setRequestIdHeader(enabled: boolean): void {
    this.requestIdHeader = enabled;
  }

  /** Clears requests, faults and state. Subclasses extend it with their own switches. */
  reset(): void {
    this.requests.length = 0;
    this.faults.length = 0;
    this.gone.clear();
    this.deleteCounts.clear();
    this.requestIdHeader = false;
    this.seq = 0;
  }

  // ---- faults ----------------------------------------------------------------------------

  pushFault(fault: Fault): void {
    const valid = validateFault(fault);
    this.faults.push({ ...valid, times: valid.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The faults still queued (times left included). */
  pendingFaults(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  // ---- for provider subclasses -----------------------------------------------------------

  /** Registers a provider route; `pattern` is relative to the base path, `:name` = a segment. */
  protected route(method: string, pattern: string, handler: RouteHandler): void {
    this.routes.push({ method, ...compile(this.basePath + pattern), handler });
  }

  /** Registers a control route under /__sim (pattern like `/jobs/:id`). */
  protected controlRoute(method: string, pattern: string, handler: ControlHandler): void {
    this.controlRoutes.push({ method, ...compile(pattern), handler });
  }

  /** The generic body a status-only fault answers with; providers override it. */
  protected faultResponse(status: number, _ctx: RouteContext): SimResponse {
    return { status, body: { error: 'service unavailable' } };
  }

  // ---- request handling ------------------------------------------------------------------

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const receivedAt = Date.now();
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const path = q === -1 ? target : target.slice(0, q);

    // Control API: both /__sim/… and {basePath}/__sim/… so either base URL works for users.
    const control = controlSubPath(path, this.basePath);
    if (control !== undefined) {
      void this.onControl(req, res, control);
      return;
    }

    req.resume(); // drain any body so the keep-alive connection stays reusable
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: target,
      headers: flattenHeaders(req.headers),
      status: 0,
      at: receivedAt,
      requestId: this.nextRequestId(),
    };
    this.record(record);

    const ctx: RouteContext = {
      method: record.method,
      path,
      params: {},
      headers: req.headers,
      requestId: record.requestId,
      receivedAt,
    };
    const fault = this.takeFault(path);
    if (fault === undefined) {
      this.respond(res, record, ctx, this.dispatch(ctx));
      return;
    }
    if (fault.hang === true) return; // left open on purpose; stop() closes it
    const run = (): void => {
      let answer = fault.status === undefined ? this.dispatch(ctx) : this.faultAnswer(fault, fault.status, ctx);
      if (fault.retryAfter !== undefined) {
        answer = { ...answer, headers: { ...answer.headers, 'retry-after': fault.retryAfter } };
      }
      this.respond(res, record, ctx, answer);
    };
    if (fault.latencyMs !== undefined && fault.latencyMs > 0) this.later(fault.latencyMs, run);
    else run();
  }

  private dispatch(ctx: RouteContext): SimResponse {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.regex.exec(ctx.path);
      if (m === null) continue;
      pathMatched = true;
      if (route.method !== ctx.method) continue;
      ctx.params = paramsOf(route.names, m);
      return route.handler(ctx);
    }
    // A route miss is the web server's answer, never a provider's: plain text, no JSON.
    return pathMatched
      ? { status: 405, body: 'Method Not Allowed', contentType: 'text/plain' }
      : { status: 404, body: 'Not Found', contentType: 'text/plain' };
  }

  private faultAnswer(fault: Fault, status: number, ctx: RouteContext): SimResponse {
    const answer = fault.body === undefined ? this.faultResponse(status, ctx) : { status, body: fault.body };
    if (fault.contentType !== undefined) answer.contentType = fault.contentType;
    return answer;
  }

  private respond(res: ServerResponse, record: RecordedRequest, ctx: RouteContext, answer: SimResponse): void {
    // Counted even if the client already gave up: the provider did delete (that is the case
    // "timed out, but deleted upstream" a gateway must survive).
    if (ctx.method === 'DELETE' && answer.status >= 200 && answer.status < 300) {
      this.deleteCounts.set(ctx.path, (this.deleteCounts.get(ctx.path) ?? 0) + 1);
    }
    record.status = answer.status;
    if (this.requestIdHeader) answer = { ...answer, headers: { ...answer.headers, 'x-request-id': ctx.requestId } };
    if (!res.destroyed) writeAnswer(res, answer);
  }

  private takeFault(path: string): StoredFault | undefined {
    if (this.faults.length === 0) return undefined; // the common, fast case
    const i = this.faults.findIndex((f) => f.path === undefined || path.startsWith(f.path));
    if (i === -1) return undefined;
    const fault = this.faults[i] as StoredFault;
    fault.times -= 1;
    if (fault.times <= 0) this.faults.splice(i, 1);
    return fault;
  }

  private record(r: RecordedRequest): void {
    // Drop the oldest half at once: amortised O(1), and recent requests are the useful ones.
    if (this.requests.length >= this.maxRecorded) this.requests.splice(0, Math.ceil(this.maxRecorded / 2));
    this.requests.push(r);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private nextRequestId(): string {
    this.seq += 1;
    return `req_${createHash('md5').update(`${this.name}:${this.seq}`).digest('hex')}`;
  }

  // ---- control API -----------------------------------------------------------------------

  private async onControl(req: IncomingMessage, res: ServerResponse, sub: string): Promise<void> {
    let answer: SimResponse;
    try {
      const body = await readJsonBody(req);
      const method = req.method ?? 'GET';
      const route = this.controlRoutes.find((r) => r.method === method && r.regex.test(sub));
      if (route === undefined) {
        answer = { status: 404, body: { error: `no control endpoint ${method} /__sim${sub}` } };
      } else {
        answer = route.handler(body, paramsOf(route.names, route.regex.exec(sub) as RegExpExecArray));
      }
    } catch (err) {
      const status = err instanceof ControlError ? 400 : 500;
      answer = { status, body: { error: err instanceof Error ? err.message : String(err) } };
    }
    if (!res.destroyed) writeAnswer(res, answer);
  }

  private registerBuiltinControls(): void {
    const noContent: SimResponse = { status: 204 };
    this.controlRoute('POST', '/faults', (body) => {
      this.pushFault(validateFault(body, true));
      return noContent;
    });
    this.controlRoute('GET', '/faults', () => ({
      status: 200,
      // JSON has no Infinity: show it as null, the same spelling POST accepts.
      body: this.faults.map((f) => ({ ...f, times: Number.isFinite(f.times) ? f.times : null })),
    }));
    this.controlRoute('DELETE', '/faults', () => {
      this.clearFaults();
      return noContent;
    });
    this.controlRoute('GET', '/requests', () => ({
      status: 200,
      body: this.requests.map((r) => ({ ...r, headers: redact(r.headers) })),
    }));
    this.controlRoute('GET', '/deletes', () => ({ status: 200, body: Object.fromEntries(this.deleteCounts) }));
    this.controlRoute('POST', '/reset', () => {
      this.reset();
      return noContent;
    });
    this.controlRoute('POST', '/request-id-header', (body) => {
      const enabled = isRecord(body) ? body['enabled'] : undefined;
      if (typeof enabled !== 'boolean') throw new ControlError('body must be {"enabled": true|false}');
      this.setRequestIdHeader(enabled);
      return noContent;
    });
    this.controlRoute('POST', '/missing', (body) => {
      const path = isRecord(body) ? body['path'] : undefined;
      if (typeof path !== 'string' || !path.startsWith('/')) {
        throw new ControlError('body must be {"path": "/resource/path"}');
      }
      this.markMissing(path);
      return noContent;
    });
  }
}

// ---- helpers shared with the provider files ------------------------------------------------

/** The token of `Authorization: Bearer TOKEN`, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(headers.authorization ?? '');
  return m?.[1];
}

/** A single-valued header (the first value if repeated). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** ISO 8601 without milliseconds, as the providers' examples show it. */
export function isoNow(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a fault (from code or from control-API JSON). With `fromJson`, `"times": null`
 * means Infinity, since JSON cannot spell it.
 */
export function validateFault(input: unknown, fromJson = false): Fault {
  if (!isRecord(input)) throw new ControlError('fault must be a JSON object');
  const known = new Set(['status', 'body', 'contentType', 'retryAfter', 'latencyMs', 'hang', 'times', 'path']);
  for (const k of Object.keys(input)) if (!known.has(k)) throw new ControlError(`unknown fault field "${k}"`);
  const { status, body, contentType, retryAfter, latencyMs, hang, path } = input;
  let times = input['times'];
  if (fromJson && times === null) times = Infinity;

  const fault: Fault = {};
  if (status !== undefined) {
    if (!Number.isInteger(status) || (status as number) < 200 || (status as number) > 599) {
      throw new ControlError('status must be an integer from 200 to 599');
    }
    fault.status = status as number;
  }
  if (body !== undefined) fault.body = body;
  if (contentType !== undefined) {
    if (typeof contentType !== 'string' || contentType === '') throw new ControlError('contentType must be a string');
    fault.contentType = contentType;
  }
  if (retryAfter !== undefined) {
    if (typeof retryAfter !== 'string' || !/^[\x20-\x7e]+$/.test(retryAfter)) {
      throw new ControlError('retryAfter must be a header value string, e.g. "2"');
    }
    fault.retryAfter = retryAfter;
  }
  if (latencyMs !== undefined) {
    if (typeof latencyMs !== 'number' || !Number.isFinite(latencyMs) || latencyMs < 0 || latencyMs > MAX_LATENCY_MS) {
      throw new ControlError(`latencyMs must be a number from 0 to ${MAX_LATENCY_MS}`);
    }
    fault.latencyMs = latencyMs;
  }
  if (hang !== undefined) {
    if (typeof hang !== 'boolean') throw new ControlError('hang must be a boolean');
    fault.hang = hang;
  }
  if (times !== undefined) {
    if (times !== Infinity && (!Number.isInteger(times) || (times as number) < 1)) {
      throw new ControlError('times must be a positive integer (or null for always)');
    }
    fault.times = times as number;
  }
  if (path !== undefined) {
    if (typeof path !== 'string' || !path.startsWith('/')) throw new ControlError('path must start with "/"');
    fault.path = path;
  }
  if (fault.status === undefined && fault.latencyMs === undefined && fault.hang !== true) {
    throw new ControlError('a fault needs status, latencyMs or hang');
  }
  return fault;
}

function compile(pattern: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = pattern
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(seg.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}$`), names };
}

function paramsOf(names: string[], m: RegExpExecArray): Record<string, string> {
  const params: Record<string, string> = {};
  names.forEach((name, i) => {
    const raw = m[i + 1] ?? '';
    try {
      params[name] = decodeURIComponent(raw);
    } catch {
      params[name] = raw; // malformed escape: left raw, and then not a well-formed id
    }
  });
  return params;
}

function controlSubPath(path: string, basePath: string): string | undefined {
  for (const prefix of basePath === '' ? ['/__sim'] : ['/__sim', `${basePath}/__sim`]) {
    if (path === prefix) return '/';
    if (path.startsWith(`${prefix}/`)) return path.slice(prefix.length);
  }
  return undefined;
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

function redact(headers: Record<string, string | undefined>): Record<string, string | undefined> {
  const out = { ...headers };
  for (const name of REDACTED_HEADERS) if (out[name] !== undefined) out[name] = '[redacted]';
  return out;
}

function writeAnswer(res: ServerResponse, answer: SimResponse): void {
  const headers: OutgoingHttpHeaders = { ...answer.headers };
  // 204/304 carry no body by definition; anything else gets an explicit length (keep-alive).
  const bodyAllowed = answer.status !== 204 && answer.status !== 304;
  let payload: string | undefined;
  if (bodyAllowed && answer.body !== undefined) {
    const isText = typeof answer.body === 'string';
    payload = isText ? (answer.body as string) : JSON.stringify(answer.body);
    headers['content-type'] = answer.contentType ?? (isText ? 'text/plain' : 'application/json');
  }
  if (bodyAllowed) headers['content-length'] = payload === undefined ? 0 : Buffer.byteLength(payload);
  res.writeHead(answer.status, headers);
  res.end(payload);
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_CONTROL_BODY) throw new ControlError('body too large');
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ControlError('body is not valid JSON');
  }
}
