// The HTTP side: graphql-yoga on node:http with the request id, authentication, rate limit, CORS,
// GraphiQL from local packages, health endpoints, and a graceful close.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NoSchemaIntrospectionCustomRule, OperationTypeNode, type DocumentNode, Kind } from 'graphql';
import { createYoga, type Plugin, type YogaInitialContext } from 'graphql-yoga';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import type { Config } from './config.ts';
import type { Principal } from './domain.ts';
import type { Db } from './db/open.ts';
import { presentedKey, principalForKey } from './auth/keys.ts';
import { createLoaders } from './catalog/loaders.ts';
import { authenticationRequired, rateLimited } from './errors.ts';
import type { GraphQLContext } from './graphql/builder.ts';
import { schema } from './graphql/schema.ts';
import type { Logger } from './logging.ts';
import type { Observer } from './observer.ts';
import type { ProviderClient } from './providers/http.ts';
import type { Runtime } from './runtime.ts';
import { RateLimiter } from './auth/rate-limit.ts';

export interface ServerDeps {
  config: Config;
  db: Db;
  runtime: Runtime;
  client: ProviderClient;
  observer: Observer;
  logger: Logger;
  instanceId: string;
  /** What GraphiQL opens with (sandbox: a real demo id and the admin key). */
  graphiql?: { defaultQuery?: string; headers?: Record<string, string> };
  /** Extra origins allowed by CORS besides CORS_ORIGINS (sandbox: http://localhost:*). */
  allowLocalhostOrigins?: boolean;
}

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
`;

interface RequestScope {
  requestId: string;
  traceId: string;
  startedAt: number;
  principal: Principal | null;
  /** Why the presented credentials were refused, if they were. */
  refusal: string | null;
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

function isMutation(document: DocumentNode, operationName: string | null | undefined): boolean {
  return document.definitions.some(
    (d) => d.kind === Kind.OPERATION_DEFINITION && d.operation === OperationTypeNode.MUTATION && (!operationName || d.name?.value === operationName),
  );
}

export function corsOriginAllowed(config: Config, origin: string, allowLocalhost: boolean): boolean {
  if (config.corsOrigins.includes(origin)) return true;
  return allowLocalhost && /^http:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?$/.test(origin);
}

export function createGateway(deps: ServerDeps) {
  const { config, db, logger } = deps;
  const scopes = new WeakMap<Request, RequestScope>();
  const limiter = new RateLimiter(config.rateLimitPerMinute, () => deps.runtime.clock.now().getTime());

  const requestPlugin: Plugin<GraphQLContext> = {
    onRequest({ request }) {
      const given = request.headers.get('x-request-id');
      const requestId = given && REQUEST_ID_PATTERN.test(given) ? given : deps.runtime.newId('req');
      const traceparent = TRACEPARENT_PATTERN.exec(request.headers.get('traceparent') ?? '');
      const presented = presentedKey(request.headers.get('authorization'), request.headers.get('x-api-key'));
      let principal: Principal | null = null;
      let refusal: string | null = null;
      if (presented.kind === 'conflict') refusal = 'Authorization and X-API-Key name different keys';
      else if (presented.kind === 'malformed') refusal = 'the Authorization header is not "Bearer KEY"';
      else if (presented.kind === 'key') {
        principal = principalForKey(db, presented.key);
        if (!principal) refusal = 'unknown or revoked API key';
      }
      scopes.set(request, { requestId, traceId: traceparent?.[1] ?? requestId, startedAt: performance.now(), principal, refusal });
    },
    onExecute({ args }) {
      const scope = scopes.get((args.contextValue as YogaInitialContext).request);
      if (!scope) return;
      if (scope.refusal) throw authenticationRequired(scope.refusal);
      if (!scope.principal && !(config.introspection && isIntrospectionOnly(args.document))) throw authenticationRequired('no API key');
      if (scope.principal && isMutation(args.document, args.operationName)) {
        const retryAfter = limiter.take(scope.principal.keyId);
        if (retryAfter !== null) throw rateLimited(retryAfter);
      }
    },
    onResponse({ request, response }) {
      const scope = scopes.get(request);
      if (scope) response.headers.set('x-request-id', scope.requestId);
    },
  };

  const introspectionPlugin: Plugin = {
    onValidate({ addValidationRule }) {
      if (!config.introspection) addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };

  const yoga = createYoga<Record<string, never>, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    maskedErrors: { isDev: false },
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
    renderGraphiQL,
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !corsOriginAllowed(config, origin, deps.allowLocalhostOrigins ?? false)) return false;
      return {
        origin: [origin],
        credentials: true,
        methods: ['GET', 'POST', 'OPTIONS'],
        allowedHeaders: ['authorization', 'x-api-key', 'content-type', 'x-request-id'],
        exposedHeaders: ['x-request-id', 'retry-after'],
      };
    },
    plugins: [requestPlugin, introspectionPlugin],
    context: ({ request }): GraphQLContext => {
      const scope = scopes.get(request)!;
      return {
        db,
        config,
        runtime: deps.runtime,
        client: deps.client,
        observer: deps.observer,
        instanceId: deps.instanceId,
        loaders: createLoaders(db),
        principal: scope.principal,
        requestId: scope.requestId,
        traceId: scope.traceId,
        startedAt: scope.startedAt,
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
      let ready = false;
      try {
        db.$client.prepare('BEGIN IMMEDIATE').run();
        db.$client.prepare('ROLLBACK').run();
        ready = db.$client.prepare('SELECT count(*) AS n FROM __drizzle_migrations').get() !== undefined;
      } catch {
        ready = false;
      }
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'unavailable' }));
      return true;
    }
    return false;
  }

  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (health(req, res)) return;
    void yoga(req, res);
  };
  return { yoga, handler };
}

export interface RunningServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port: number, host: string): Promise<RunningServer> {
  const server = createServer({ keepAliveTimeout: 5_000 }, handler);
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
