// The HTTP side: graphql-yoga on node:http with the request id, authentication, rate limit, CORS,
// CSRF prevention, abuse limits (graphql-armor, body size), request logs and metrics, GraphiQL from
// local packages, health and metrics endpoints, and a graceful close.
import { STATUS_CODES, createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  NoSchemaIntrospectionCustomRule,
  OperationTypeNode,
  type ArgumentNode,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLError,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValidationContext,
  Kind,
} from 'graphql';
import { createGraphQLError, createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { AuditSigning } from './audit/signing-key.ts';
import type { Config } from './config.ts';
import type { Principal } from './domain.ts';
import type { Database } from './db/database.ts';
import type { ChangeFeed } from './live/feed.ts';
import { presentedKey, principalForKey } from './auth/keys.ts';
import { createLoaders } from './catalog/loaders.ts';
import { authenticationRequired, rateLimited } from './errors.ts';
import type { GraphQLContext } from './graphql/builder.ts';
import { schema } from './graphql/schema.ts';
import type { Logger } from './logging.ts';
import type { Metrics } from './metrics.ts';
import type { Observer } from './observer.ts';
import type { ProviderClient } from './providers/http.ts';
import type { Runtime } from './runtime.ts';
import { RateLimiter } from './auth/rate-limit.ts';
import { Circuits } from './worker/circuit.ts';

export interface ServerDeps {
  config: Config;
  db: Database;
  runtime: Runtime;
  client: ProviderClient;
  /** The process's provider circuits, shared with its worker (a set of its own when not given). */
  circuits?: Circuits;
  observer: Observer;
  logger: Logger;
  instanceId: string;
  /** What GraphiQL opens with (sandbox: a real demo id and the admin key). */
  graphiql?: { defaultQuery?: string; headers?: Record<string, string> };
  /** Extra origins allowed by CORS besides CORS_ORIGINS (sandbox: http://localhost:*). */
  allowLocalhostOrigins?: boolean;
  /** Served at /metrics and fed one observation per GraphQL request. */
  metrics?: Metrics;
  /** Signs the audit logs' checkpoints. */
  signing: AuditSigning;
  /** The process's change feed, which subscriptions follow. */
  feed: ChangeFeed;
}

/**
 * Abuse limits, set explicitly rather than left to library defaults. Measured on the legitimate
 * operations (README, GraphiQL's example, the sandbox query, a full page of auditEvents or
 * upstreamDeletions with every field): depth ≤ 4, aliases 0, directives 0, tokens ≤ 120, cost ≤ 7,000
 * (auditEvents(first: 100) with every field); GraphiQL's introspection query is 184 tokens (depth and
 * cost skip `__schema`, whose nesting graphql-js's own MaxIntrospectionDepthRule bounds). The schema
 * has no cycles, so depth only guards fragment tricks; aliases are how one request multiplies work.
 */
export const ABUSE_LIMITS = {
  maxDepth: 8,
  maxAliases: 10,
  maxDirectives: 10,
  maxTokens: 2_000,
  maxCost: 20_000,
  maxRequestBodyBytes: 1024 * 1024,
} as const;

/**
 * Headers whose presence proves a browser sent a CORS preflight first (none is CORS-safelisted), so
 * a cross-site form or image GET cannot trigger an operation. Browser clients that send neither key
 * header (e.g. a keyless introspection GET) add `x-graphql-yoga-csrf: 1`.
 */
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'authorization', 'x-api-key'];

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT_PATTERN = /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/;

export const EXAMPLE_QUERY = `# Every operation needs an API key: fill in the Headers tab below, e.g.
#   { "Authorization": "Bearer sdg_…" }
# (\`gateway keys create --org ORG --user USER --role admin\` prints one.)

query WhoAmI {
  viewer { organizationId userId role }
}

mutation DeleteTranscription {
  deleteTranscription(transcriptionId: "trans_replace_me") {
    __typename
    ... on TranscriptionDeletion {
      transcriptionId provider deleted deletedAt deletedUpstream alreadyDeleted
      upstream { status attempts reason lastHttpStatus nextAttemptAt }
      auditEvent { id outcome hash }
      metadata { requestId processingTimeMs }
    }
    ... on Error { code message systemMessage traceId }
    ... on ValidationError { field }
  }
}

# Live status over Server-Sent Events: the current state first, then each change until DELETED or
# FAILED. Run it in a second tab to watch a delete happen.
subscription WatchDeletion {
  upstreamDeletionChanged(kind: TRANSCRIPTION, id: "trans_replace_me") {
    status attempts reason lastHttpStatus nextAttemptAt completedAt
  }
}
`;

interface RequestScope {
  requestId: string;
  traceId: string;
  startedAt: number;
  principal: Principal | null;
  /** Why the presented credentials were refused, if they were. */
  refusal: string | null;
  /**
   * The key could not be looked up (the database failed: a dropped connection, a restart): thrown
   * where yoga masks it ("Unexpected error.", 500), never answered as the driver's text.
   */
  lookupFailure: Error | null;
  operationName: string | null;
  operationType: string | null;
  /** Top-level error codes and the codes of error values returned in result unions. */
  codes: string[];
}

/** Only `__schema`, `__type` and `__typename` selected: introspection, which needs no key. */
function isIntrospectionOnly(document: DocumentNode): boolean {
  return document.definitions.every(
    (definition) =>
      definition.kind === Kind.FRAGMENT_DEFINITION ||
      (definition.kind === Kind.OPERATION_DEFINITION &&
        definition.operation === OperationTypeNode.QUERY &&
        definition.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'))),
  );
}

function selectedOperation(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  return document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName),
  );
}

/**
 * What an operation costs against the per-key rate limit: one per root field it runs (aliases and
 * fragments included: each aliased mutation is a delete of its own), and for deleteResources one
 * per target (a call of 500 targets is 500 deletes). Runs after validation, so fragments exist and
 * do not cycle, and `targets` is a list (or a single object, which GraphQL coerces to one).
 */
function rateCost(document: DocumentNode, selectionSet: SelectionSetNode, variables: Record<string, unknown> | null | undefined): number {
  let cost = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === '__typename') continue;
      cost += selection.name.value === 'deleteResources' ? targetCount(selection.arguments, variables) : 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) cost += rateCost(document, selection.selectionSet, variables);
    else {
      const fragment = document.definitions.find((d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) cost += rateCost(document, fragment.selectionSet, variables);
    }
  }
  return cost;
}

/** The number of targets of a deleteResources field; 1 when it is not a list (a call the resolver refuses anyway). */
function targetCount(args: readonly ArgumentNode[] | undefined, variables: Record<string, unknown> | null | undefined): number {
  const value = args?.find((arg) => arg.name.value === 'targets')?.value;
  if (value?.kind === Kind.LIST) return Math.max(1, value.values.length);
  if (value?.kind === Kind.VARIABLE) {
    const given = variables?.[value.name.value];
    if (Array.isArray(given)) return Math.max(1, given.length);
  }
  return 1;
}

/** An error's code; a library error without one (CSRF prevention's 403) is named by its HTTP status. */
function errorCode(error: Pick<GraphQLError, 'extensions'>): string {
  const code = error.extensions?.code;
  if (typeof code === 'string') return code;
  const status = (error.extensions?.http as { status?: unknown } | undefined)?.status;
  return typeof status === 'number' ? `HTTP_${status}` : 'ERROR';
}

/** Codes of a result: top-level errors, then error values (`... on Error { code }`) of root fields. */
function resultCodes(result: ExecutionResult): string[] {
  const codes = (result.errors ?? []).map(errorCode);
  for (const value of Object.values(result.data ?? {})) {
    const member = value as { __typename?: unknown; code?: unknown } | null;
    if (member && typeof member === 'object' && typeof member.code === 'string' && String(member.__typename ?? '').endsWith('Error')) codes.push(member.code);
  }
  return codes;
}

export function corsOriginAllowed(config: Config, origin: string, allowLocalhost: boolean): boolean {
  if (config.corsOrigins.includes(origin)) return true;
  return allowLocalhost && /^http:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?$/.test(origin);
}

export function createGateway(deps: ServerDeps) {
  const { config, db, logger, metrics } = deps;
  const scopes = new WeakMap<Request, RequestScope>();
  /** Requests whose body went over the limit while it was read (chunked, or longer than declared). */
  const oversized = new WeakSet<IncomingMessage>();
  const limiter = new RateLimiter(config.rateLimitPerMinute, () => deps.runtime.clock.now().getTime());
  const circuits = deps.circuits ?? new Circuits(deps.runtime.clock);

  /**
   * The operation about to run, named in the request's scope for logs and metrics, once the
   * presented credentials allow it: only introspection runs without a key.
   */
  const admit = (scope: RequestScope, document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined => {
    const operation = selectedOperation(document, operationName);
    scope.operationType = operation?.operation ?? null;
    scope.operationName ??= operation?.name?.value.slice(0, 100) ?? null;
    if (scope.refusal) throw authenticationRequired(scope.refusal);
    const introspection = config.introspection && isIntrospectionOnly(document);
    if (!scope.principal && !introspection) throw authenticationRequired('no API key');
    return operation;
  };

  const requestPlugin: Plugin<GraphQLContext> = {
    async onRequest({ request }) {
      const given = request.headers.get('x-request-id');
      const requestId = given && REQUEST_ID_PATTERN.test(given) ? given : deps.runtime.newId('req');
      const traceparent = TRACEPARENT_PATTERN.exec(request.headers.get('traceparent') ?? '');
      const presented = presentedKey(request.headers.get('authorization'), request.headers.get('x-api-key'));
      let principal: Principal | null = null;
      let refusal: string | null = null;
      let lookupFailure: Error | null = null;
      if (presented.kind === 'conflict') refusal = 'Authorization and X-API-Key name different keys';
      else if (presented.kind === 'malformed') refusal = 'the Authorization header is not "Bearer KEY"';
      else if (presented.kind === 'key') {
        // An error here would reach whatwg-node, which answers its stack as text/plain.
        try {
          principal = await principalForKey(db, presented.key);
          if (!principal) refusal = 'unknown or revoked API key';
        } catch (error) {
          lookupFailure = error instanceof Error ? error : new Error(`API key lookup failed: ${String(error)}`);
        }
      }
      scopes.set(request, {
        requestId,
        traceId: traceparent?.[1] ?? requestId,
        startedAt: performance.now(),
        principal,
        refusal,
        lookupFailure,
        operationName: null,
        operationType: null,
        codes: [],
      });
    },
    onRequestParse({ request }) {
      const failure = scopes.get(request)?.lookupFailure;
      if (failure) throw failure;
    },
    onParams({ request, params }) {
      const scope = scopes.get(request);
      // Client-chosen text: bounded before it reaches a log line.
      if (scope && typeof params.operationName === 'string') scope.operationName = params.operationName.slice(0, 100);
    },
    // Credentials are judged before validation: a caller without a valid key learns only that (401),
    // never whether its operation would have been valid. Thrown before validating, nothing is cached.
    onValidate({ context, params }) {
      const scope = scopes.get((context as YogaInitialContext).request);
      if (!scope) return;
      if (scope.refusal) throw authenticationRequired(scope.refusal);
      if (!scope.principal && !(config.introspection && isIntrospectionOnly(params.documentAST))) throw authenticationRequired('no API key');
    },
    onExecute({ args }) {
      const scope = scopes.get((args.contextValue as YogaInitialContext).request);
      if (!scope) return;
      const operation = admit(scope, args.document, args.operationName);
      if (scope.principal && operation?.operation === OperationTypeNode.MUTATION) {
        // All or nothing: a call with more deletes than the key has left is refused whole.
        const retryAfter = limiter.take(scope.principal.keyId, Math.max(1, rateCost(args.document, operation.selectionSet, args.variableValues)));
        if (retryAfter !== null) throw rateLimited(retryAfter);
      }
    },
    // Subscriptions are not executed but subscribed (onExecute never sees them): the same checks,
    // and no mutation rate limit (open streams are bounded per key by the change feed).
    onSubscribe({ args }) {
      const scope = scopes.get((args.contextValue as YogaInitialContext).request);
      if (scope) admit(scope, args.document, args.operationName);
    },
    onResultProcess({ request, result }) {
      const scope = scopes.get(request);
      if (!scope) return;
      for (const one of Array.isArray(result) ? result : [result]) {
        if (one && typeof one === 'object' && !(Symbol.asyncIterator in one)) scope.codes.push(...resultCodes(one as ExecutionResult));
      }
    },
    onResponse({ request, response }) {
      const scope = scopes.get(request);
      if (!scope) return;
      response.headers.set('x-request-id', scope.requestId);
      // CORS headers differ by Origin (granted or not): a shared cache must not hand one to another.
      if (!/\bOrigin\b/i.test(response.headers.get('vary') ?? '')) response.headers.append('vary', 'Origin');
      const durationMs = Math.round((performance.now() - scope.startedAt) * 10) / 10;
      const outcome = scope.codes.length === 0 && response.status < 400 ? 'ok' : 'error';
      const codes = scope.codes.slice(0, 10);
      // Preflights are browser plumbing: counted nowhere, logged only when debugging.
      if (request.method === 'OPTIONS') {
        logger.debug({ event: 'preflight', requestId: scope.requestId, origin: request.headers.get('origin')?.slice(0, 200), status: response.status }, 'CORS preflight');
        return;
      }
      logger.info(
        {
          event: 'request',
          requestId: scope.requestId,
          traceId: scope.traceId,
          method: request.method,
          principalId: scope.principal?.keyId ?? null,
          organizationId: scope.principal?.organizationId ?? null,
          operationName: scope.operationName,
          operationType: scope.operationType,
          outcome,
          codes,
          status: response.status,
          durationMs,
        },
        'graphql request',
      );
      metrics?.request({ operationType: scope.operationType ?? 'none', outcome: outcome === 'ok' ? 'ok' : (codes[0] ?? `HTTP_${response.status}`), durationMs });
    },
  };

  // yoga's own limit (maxRequestBodySize) pipes every body through a TransformStream; the handler
  // reads it instead (readBody), and this answers as yoga's would: the same errors, at the same point.
  const bodyLimitPlugin: Plugin<GraphQLContext, { req: IncomingMessage }> = {
    onRequestParse({ request, serverContext }) {
      const contentLength = request.headers.get('content-length');
      if (contentLength !== null) {
        if (!/^\d+$/.test(contentLength)) {
          throw createGraphQLError('Content-Length header is invalid.', { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
        }
        if (Number(contentLength) > ABUSE_LIMITS.maxRequestBodyBytes) throw requestBodyTooLarge();
      }
      if (oversized.has(serverContext.req)) throw requestBodyTooLarge();
    },
  };

  const introspectionPlugin: Plugin = {
    onValidate({ addValidationRule }) {
      if (!config.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };

  // Reported as validation errors (GRAPHQL_VALIDATION_FAILED, HTTP 400 for graphql-response+json)
  // rather than thrown, which would answer 200 without a code. Tokens are counted while parsing,
  // where there is no validation context: that limit throws (GRAPHQL_PARSE_FAILED).
  const asValidationError = { propagateOnRejection: false, onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)] };
  const armorPlugin = EnvelopArmorPlugin({
    maxDepth: { n: ABUSE_LIMITS.maxDepth, flattenFragments: true, ignoreIntrospection: true, ...asValidationError },
    maxAliases: { n: ABUSE_LIMITS.maxAliases, ...asValidationError },
    maxDirectives: { n: ABUSE_LIMITS.maxDirectives, ...asValidationError },
    maxTokens: { n: ABUSE_LIMITS.maxTokens },
    costLimit: { maxCost: ABUSE_LIMITS.maxCost, flattenFragments: true, ignoreIntrospection: true, ...asValidationError },
    // "Did you mean …?" maps a schema without introspection; only where introspection is off by default.
    blockFieldSuggestion: { enabled: config.production },
  });

  const yoga = createYoga<Record<string, never>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { isDev: false },
    // Enforced by the handler and bodyLimitPlugin, without a stream per request.
    maxRequestBodySize: false,
    // One operation per request: a JSON array of operations is refused (yoga's default, stated here).
    batching: false,
    logging: {
      debug: (...args) => logger.debug({ yoga: args.map(String) }),
      info: (...args) => logger.info({ yoga: args.map(String) }),
      warn: (...args) => logger.warn({ yoga: args.map(String) }),
      error: (...args) => logger.error({ yoga: args.map((a) => (a instanceof Error ? a.message : String(a))) }),
    },
    graphiql: config.graphiql
      ? {
          title: 'Speech deletion gateway',
          defaultQuery: deps.graphiql?.defaultQuery ?? EXAMPLE_QUERY,
          headers: JSON.stringify(deps.graphiql?.headers ?? { Authorization: 'Bearer <your API key>' }, null, 2),
          shouldPersistHeaders: false,
        }
      : false,
    // Loaded on the first GraphiQL page only: the bundled editor is a third of the heap a started
    // gateway holds, and a production gateway never serves it.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !corsOriginAllowed(config, origin, deps.allowLocalhostOrigins ?? false)) return false;
      return {
        origin: [origin],
        credentials: true,
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['authorization', 'x-api-key', 'content-type', 'x-request-id'],
        exposedHeaders: ['x-request-id', 'retry-after'],
        // Every keyed request is preflighted; let the browser reuse a grant for ten minutes.
        maxAge: 600,
      };
    },
    plugins: [requestPlugin, useCSRFPrevention({ requestHeaders: CSRF_HEADERS }), introspectionPlugin, armorPlugin, bodyLimitPlugin],
    context: ({ request }): GraphQLContext => {
      const scope = scopes.get(request)!;
      return {
        db,
        config,
        runtime: deps.runtime,
        client: deps.client,
        circuits,
        observer: deps.observer,
        instanceId: deps.instanceId,
        signing: deps.signing,
        loaders: createLoaders(db),
        principal: scope.principal,
        requestId: scope.requestId,
        traceId: scope.traceId,
        startedAt: scope.startedAt,
        feed: deps.feed,
        signal: request.signal,
      };
    },
  });

  function health(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return true;
    }
    if (path === '/readyz') {
      void db.ping().then((ready) =>
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'unavailable' })),
      );
      return true;
    }
    return false;
  }

  async function serveMetrics(res: ServerResponse, source: Metrics): Promise<void> {
    try {
      const { contentType, body } = await source.scrape();
      res.writeHead(200, { 'content-type': contentType }).end(body);
    } catch (error) {
      logger.error({ err: error instanceof Error ? error.message : String(error) }, 'metrics scrape failed');
      res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
    }
  }

  // Event streams (subscriptions) stay open until they end; shutdown cuts them (see endStreams).
  const streams = new Set<ServerResponse>();

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    // Before any routing: yoga would build a URL from this and fail on it (an uncaught TypeError, 500).
    const problem = requestTargetProblem(req);
    if (problem) {
      answerError(res, 400, problem);
      return;
    }
    if (health(req, res)) return;
    if (metrics && req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      void serveMetrics(res, metrics);
      return;
    }
    if (req.headers.accept?.includes('text/event-stream')) {
      streams.add(res);
      res.once('close', () => streams.delete(res));
    }
    if (req.method !== 'POST') {
      void yoga(req, res);
      return;
    }
    readBody(req, ABUSE_LIMITS.maxRequestBodyBytes).then(
      (read) => {
        if (read === 'too-large') oversized.add(req);
        // whatwg-node takes a body already read from `req.body` instead of piping the stream
        // through a TransformStream (yoga's size limit) and an AbortController per request.
        else if (read.length > 0) (req as IncomingMessage & { body?: Buffer }).body = read;
        void yoga(req, res);
      },
      () => {
        // The client went away before its body ended: there is nobody to answer.
        res.destroy();
      },
    );
  };

  /**
   * Closes every open event stream's connection, without a `complete`: GraphQL over SSE clients
   * (graphql-sse) take that as an interruption and subscribe again (elsewhere, or once this process
   * is back), which sends the current state first. Their streams end as their clients' would.
   */
  function endStreams(): number {
    const open = streams.size;
    for (const res of streams) res.destroy();
    streams.clear();
    return open;
  }
  return { yoga, handler, endStreams };
}

function requestBodyTooLarge(): GraphQLError {
  return createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
}

/**
 * A request's body, whole, or 'too-large' as soon as it passes `limit` bytes (what is left is read
 * and dropped, so the connection can answer). Not read at all when Content-Length already says too
 * much: bodyLimitPlugin refuses it from the header. Rejects when the client goes away first.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) return Promise.resolve('too-large');
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume();
      settle();
      resolve('too-large');
    };
    const onEnd = () => {
      settle();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onGone = () => {
      settle();
      reject(new Error('request body incomplete'));
    };
    const settle = () => {
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

// ---- hostile HTTP: answered in front of yoga, always 4xx with a JSON body, never a stack trace ----

/** A reg-name or IP literal with an optional port (RFC 3986 §3.2.2): no "/", "?", "#", "@" or space. */
const HOST_PATTERN = /^(?:\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9._~!$&'()*+,;=%-]{1,253})(?::\d{1,5})?$/;

/** The `extensions.code` of the errors answered before yoga, by HTTP status. */
const EARLY_ERROR_CODES: Record<number, string> = {
  400: 'BAD_REQUEST',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  417: 'EXPECTATION_FAILED',
  431: 'REQUEST_HEADER_FIELDS_TOO_LARGE',
};

/** node's HTTP parser errors → status (as node itself answers them, but with a JSON body). */
const PARSER_ERROR_STATUS: Record<string, number> = {
  HPE_HEADER_OVERFLOW: 431,
  HPE_CHUNK_EXTENSIONS_OVERFLOW: 413,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
};

/** An error body shaped as GraphQL over HTTP shapes request errors. */
function errorBody(status: number, message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code: EARLY_ERROR_CODES[status] ?? 'BAD_REQUEST' } }] });
}

function answerError(res: ServerResponse, status: number, message: string): void {
  const body = errorBody(status, message);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), connection: 'close' }).end(body);
}

/** A whole HTTP/1.1 error response, for a socket the HTTP parser has given up on (no ServerResponse). */
function rawErrorResponse(status: number, message: string, headers: Record<string, string> = {}): string {
  const body = errorBody(status, message);
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** Answers on a raw socket and closes it; a client that never closes its side is cut off soon after. */
function endSocket(socket: Duplex, response: string): void {
  socket.end(response);
  if ('setTimeout' in socket && typeof socket.setTimeout === 'function') socket.setTimeout(5_000, () => socket.destroy());
}

/**
 * Why a request's target or Host cannot be served, or null. Only the origin-form target ("/graphql?…",
 * RFC 9112 §3.2.1) is served: not "*" (asterisk-form), "http://other/…" (absolute-form), "host:443"
 * (authority-form), a target without its leading slash, nor "//host/…", which a URL parser reads as
 * another host. An HTTP/1.1 request needs one valid Host (RFC 9112 §3.2: else 400).
 */
export function requestTargetProblem(req: Pick<IncomingMessage, 'url' | 'headers' | 'httpVersionMajor' | 'httpVersionMinor'>): string | null {
  const target = req.url ?? '';
  if (!target.startsWith('/') || target.startsWith('//')) return 'The request target must be a path, such as /graphql.';
  const host = req.headers.host;
  if (host === undefined) {
    if (req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1)) return 'An HTTP/1.1 request needs a Host header.';
  } else if (!HOST_PATTERN.test(host)) {
    return 'The Host header must be a host name or address, with an optional port.';
  }
  try {
    // What yoga builds the request's URL from: it must parse.
    new URL(`http://${host ?? 'localhost'}${target}`);
  } catch {
    return 'The request target or Host header does not form a valid URL.';
  }
  return null;
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host: string): Promise<RunningServer> {
  // Bounded header and body reception: a client trickling bytes (slowloris) cannot hold a socket.
  // The Host header is checked by the handler (requestTargetProblem), which answers in JSON.
  const server = createServer({ keepAliveTimeout: 5_000, headersTimeout: 10_000, requestTimeout: 30_000, requireHostHeader: false }, handler);
  // Bad framing, bad encodings, oversize headers, a timed-out request: node's parser gives up before
  // any handler runs. Answer as node would (400, 413, 431, 408), but in JSON; never after a response began.
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => {
    const current = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage;
    if (error.code === 'ECONNRESET' || !socket.writable || current?.headersSent) {
      socket.destroy();
      return;
    }
    const status = PARSER_ERROR_STATUS[error.code ?? ''] ?? 400;
    endSocket(socket, rawErrorResponse(status, status === 400 ? 'The request is not well-formed HTTP/1.1.' : (STATUS_CODES[status] ?? 'Bad request')));
  });
  // CONNECT (authority-form, "host:443"): no handler runs for it, and without this node drops the
  // connection without an answer. This is no proxy.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    endSocket(socket, rawErrorResponse(405, 'CONNECT is not served here: this is no proxy.', { allow: 'GET, POST, OPTIONS' }));
  });
  // An Expect other than 100-continue: node's own 417 has no body.
  server.on('checkExpectation', (_req: IncomingMessage, res: ServerResponse) => {
    answerError(res, 417, 'Only "Expect: 100-continue" is supported.');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${shownHost}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
