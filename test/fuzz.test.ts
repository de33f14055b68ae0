// Fuzzing the real server (fast-check): random and hostile values at every argument of every mutation
// (read from the schema, so a new mutation is fuzzed too) and at the request headers. Whatever comes
// in: no 5xx, no internal error (masked or not), no provider call with an id outside
// [A-Za-z0-9_-]{1,128}, and a rejected request changes nothing but the audit trail.
import fc from 'fast-check';
import {
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  type GraphQLArgument,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { verifyEveryLog } from './support/database.ts';
import { ORG, OTHER_ORG, startTestGateway, type TestGateway } from './support/harness.ts';
import { STACK_TRACE, rawRequest } from './support/raw-http.ts';

const RUNS = { mutations: 180, registerResources: 60, headers: 100, requestLines: 300 };
// CI replays a fixed seed so a red run is reproducible; FUZZ_SEED=random (or a number) explores further.
const SEED = process.env.FUZZ_SEED === 'random' ? Date.now() : Number(process.env.FUZZ_SEED ?? 20261123);
fc.configureGlobal({ seed: SEED });
const ran = { mutations: 0, registerResources: 0, headers: 0, rejected: 0, accepted: 0, providerCalls: 0, requestLines: 0, requestLines5xx: 0, requestLinesUnanswered: 0 };

const ID = '[A-Za-z0-9_-]{1,128}';
/** Every provider endpoint of PRODUCT.md, with each id a well-formed one. */
const PROVIDER_ROUTES = [
  new RegExp(`^/v1/audio/transcribe/${ID}$`),
  new RegExp(`^/speechtotext/v1/jobs/${ID}$`),
  new RegExp(`^/api/v3/speech-to-text/session/${ID}(/document/${ID}(/comments/${ID})?)?$`),
  new RegExp(`^/v1/music/${ID}/tracks/${ID}$`),
  new RegExp(`^/v1/batch-processor/${ID}$`),
];

/** The catalog the fuzzer aims at: enough live resources of every kind that valid calls keep reaching providers. */
const SIZE = 24;
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const batchJobId = (i: number) => `8b4f7d0e-1c2a-4e3b-9f5d-${String(i).padStart(12, '0')}`;
const POOL = {
  transcription: range(SIZE).map((i) => `trans_fz${i}`),
  revai: range(SIZE).map((i) => `revfz${i}`),
  session: range(SIZE).map((i) => `sess_fz${i}`),
  document: range(SIZE).map((i) => `doc_fz${i}`),
  comment: range(SIZE).map((i) => `cmt_fz${i}`),
  track: range(SIZE).map((i) => `mtrack_fz${i}`),
  batchJob: range(SIZE).map(batchJobId),
};
const POOL_IDS = [...Object.values(POOL).flat(), ORG, OTHER_ORG];

/** Argument sets that name real resources coherently (a document with its own session, …), per mutation. */
const COHERENT: Record<string, (i: number) => Record<string, unknown>> = {
  deleteTranscription: (i) => ({ transcriptionId: i % 2 === 0 ? POOL.transcription[i] : POOL.revai[i] }),
  deleteSession: (i) => ({ sessionId: POOL.session[i] }),
  deleteDocument: (i) => ({ sessionId: POOL.session[i], documentId: POOL.document[i] }),
  deleteComment: (i) => ({ sessionId: POOL.session[i], documentId: POOL.document[i], commentId: POOL.comment[i] }),
  deleteTrack: (i) => ({ organizationId: ORG, trackId: POOL.track[i] }),
  deleteBatchJob: (i) => ({ batchJobId: POOL.batchJob[i] }),
  retryUpstreamDeletion: (i) => ({ kind: 'TRANSCRIPTION', id: POOL.transcription[i] }),
};

/** Strings a hostile client would try: traversal, encodings, injection, control characters, size. */
const HOSTILE_STRINGS = [
  '',
  ' ',
  '../x',
  '..',
  '%2e%2e%2f',
  '..%2F..%2Fadmin',
  'a/b',
  'a?b=c',
  'a#frag',
  'a b',
  'a\u0000b',
  'trans_ok\r\nX-Injected: 1',
  'trans_\n',
  '\\\\server\\share',
  "' OR 1=1 --",
  '"; DROP TABLE resources; --',
  '__proto__',
  'constructor',
  'x'.repeat(129),
  'trans_'.padEnd(129, 'a'),
  'x'.repeat(5000),
  '🎵',
  'ｔｒａｎｓ_fullwidth',
  'trans_é',
  '\u202Etrans_rtl',
  '${jndi:ldap://127.0.0.1/a}',
  '<script>alert(1)</script>',
  'null',
  'undefined',
  '-1',
  '1e309',
];

const printableAscii = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));
const headerText = fc.string({ unit: printableAscii, maxLength: 200 });

const idLike = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POOL_IDS) },
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{1,140}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
);

/** A value of the wrong shape altogether. */
const wrongShape = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(Number.MAX_SAFE_INTEGER),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxKeys: 3 }),
  fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 }),
);

/** Values for an input type of the schema, mostly well-typed (to reach the resolvers), sometimes not. */
function valueFor(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return valueFor(type.ofType, depth);
  let typed: fc.Arbitrary<unknown>;
  if (isListType(type)) typed = fc.array(valueFor(type.ofType, depth + 1), { maxLength: depth === 0 ? 4 : 2 });
  else if (isEnumType(type)) typed = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) });
  else if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields());
    typed = fc.record(Object.fromEntries(fields.map((f) => [f.name, valueFor(f.type, depth + 1)])), {
      requiredKeys: fields.filter((f) => isNonNullType(f.type)).map((f) => f.name),
    });
  } else if (isScalarType(type) && (type.name === 'ID' || type.name === 'String')) typed = idLike;
  else if (isScalarType(type) && type.name === 'Int') typed = fc.oneof(fc.integer({ min: -5, max: 200 }), fc.integer());
  else if (isScalarType(type) && type.name === 'JSON') typed = fc.jsonValue({ maxDepth: 2 });
  else typed = fc.anything({ maxDepth: 1 });
  return fc.oneof({ weight: 9, arbitrary: typed }, { weight: 1, arbitrary: wrongShape });
}

function typeText(type: GraphQLInputType): string {
  return String(type);
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A GraphQL literal for an inline argument, following the argument's type (JSON-escaped strings are GraphQL strings). */
function literal(value: unknown, type: GraphQLInputType): string {
  if (value === null || value === undefined) return 'null';
  const inner = isNonNullType(type) ? (type.ofType as GraphQLInputType) : type;
  if (Array.isArray(value)) return `[${value.map((v) => literal(v, isListType(inner) ? (inner.ofType as GraphQLInputType) : inner)).join(' ')}]`;
  if (typeof value === 'object') {
    const fields = isInputObjectType(inner) ? inner.getFields() : {};
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${NAME.test(k) ? k : 'bad'}: ${literal(v, fields[k]?.type ?? inner)}`)
      .join(' ')} }`;
  }
  if (typeof value === 'string' && isEnumType(inner) && NAME.test(value)) return value;
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : '0';
  return JSON.stringify(value);
}

const mutationFields = Object.values(schema.getMutationType()!.getFields());

let t: TestGateway;
let keys: string[];

async function catalogState(): Promise<string> {
  return JSON.stringify([
    await t.sql('SELECT * FROM resources ORDER BY kind, id'),
    await t.sql('SELECT * FROM upstream_deletions ORDER BY kind, resource_id'),
  ]);
}

function providerRequests() {
  return [t.simulators.aitronos, t.simulators.revai, t.simulators.scriptix, t.simulators.daily].flatMap((s) => s.requests);
}

const ERROR_MEMBERS = new Set(['NotFoundError', 'PermissionDeniedError', 'ValidationError']);

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: { data?: Record<string, any> | null; errors?: { message: string; extensions?: Record<string, unknown> }[] } | null;
}

async function send(query: string, variables: unknown, headers: Record<string, string>): Promise<Answer> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let json: Answer['json'] = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** The invariants every answer keeps; returns whether the request was rejected. */
async function check(answer: Answer, before: { state: string; providerCalls: number }): Promise<void> {
  expect(answer.status, answer.text).toBeLessThan(500);
  expect(answer.headers.get('x-request-id') ?? 'req_x').toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
  for (const error of answer.json?.errors ?? []) {
    expect(error.message, answer.text).not.toBe('Unexpected error.');
    expect(error.extensions?.code, answer.text).not.toBe('INTERNAL_SERVER_ERROR');
    expect(JSON.stringify(error)).not.toMatch(/\n\s+at |SqliteError|SQLITE_|Cannot read propert|is not a function|originalError/);
  }
  const roots = Object.values(answer.json?.data ?? {}) as ({ __typename?: string } | null)[];
  const rejected = answer.status >= 400 || (answer.json?.errors?.length ?? 0) > 0 || roots.length === 0 || roots.some((r) => !r || ERROR_MEMBERS.has(r.__typename ?? ''));
  if (rejected) {
    ran.rejected += 1;
    expect(await catalogState(), `a rejected request changed the catalog or outbox: ${answer.text}`).toBe(before.state);
    expect(providerRequests().length, answer.text).toBe(before.providerCalls);
  } else {
    ran.accepted += 1;
  }
  const calls = providerRequests();
  for (const call of calls.slice(before.providerCalls)) {
    expect(PROVIDER_ROUTES.some((route) => route.test(call.path)), `provider called at ${call.path}`).toBe(true);
  }
  ran.providerCalls = calls.length;
}

beforeAll(async () => {
  t = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '1000000' } });
  keys = [t.keys.admin, t.keys.member, t.keys.viewer, t.keys.otherAdmin];
  // Mostly organisation A's (the fuzzing keys are A's admin, member and viewer, and B's admin); every
  // fourth belongs to B; owners vary so the permission table is exercised.
  const owner = (i: number) => ({ organizationId: i % 4 === 3 ? OTHER_ORG : ORG, ownerId: ['bob', 'alice', 'carol', 'olga'][i % 4]! });
  await t.register(
    range(SIZE).flatMap((i) => [
      { kind: 'TRANSCRIPTION', id: POOL.transcription[i]!, provider: 'AITRONOS_AUDIO', ...owner(i) },
      { kind: 'TRANSCRIPTION', id: POOL.revai[i]!, provider: 'REV_AI', ...owner(i) },
      { kind: 'SESSION', id: POOL.session[i]!, ...owner(i) },
      { kind: 'DOCUMENT', id: POOL.document[i]!, sessionId: POOL.session[i]!, ...owner(i) },
      { kind: 'COMMENT', id: POOL.comment[i]!, sessionId: POOL.session[i]!, documentId: POOL.document[i]!, ...owner(i) },
      { kind: 'TRACK', id: POOL.track[i]!, ...owner(i) },
      { kind: 'BATCH_JOB', id: POOL.batchJob[i]!, ...owner(i) },
    ]),
  );
  ran.providerCalls = providerRequests().length;
});

afterAll(async () => {
  for (const name of SIMULATORS) t?.simulators[name].clearFaults();
  console.log(
    `fuzz: ${ran.mutations} mutation cases, ${ran.registerResources} registerResources cases, ${ran.headers} header cases; ${ran.rejected} rejected, ${ran.accepted} accepted, ${ran.providerCalls} provider calls; ` +
      `${ran.requestLines} malformed request lines over raw sockets, ${ran.requestLines5xx} answered 5xx, ${ran.requestLinesUnanswered} unanswered`,
  );
  await t?.close();
});

/** What a provider may answer meanwhile: nothing special, or an outage, a refusal, a proxy's page. */
const providerFault = fc.option(
  fc.constantFrom(
    { status: 503 },
    { status: 429, retryAfter: '7' },
    { status: 500 },
    { status: 401 },
    { status: 404, body: '<html>Not Found</html>', contentType: 'text/html' },
  ),
  { nil: undefined },
);

/**
 * One mutation with fuzzed arguments, by variables or inline, as one of the org keys: all arguments
 * random, or a coherent set naming real resources with one argument swapped for a random one, or a
 * coherent set as is (so the provider-call path is fuzzed too).
 */
function mutationCase(fields: typeof mutationFields) {
  return fc
    .constantFrom(...fields)
    .chain((field) => {
      const random = fc.tuple(...field.args.map((arg: GraphQLArgument) => valueFor(arg.type)));
      const coherent = COHERENT[field.name];
      const values = coherent
        ? fc.oneof(
            { weight: 2, arbitrary: random },
            {
              weight: 3,
              arbitrary: fc.record({ i: fc.nat(SIZE - 1), swap: fc.nat(field.args.length - 1), random }).map(({ i, swap, random }) =>
                field.args.map((arg, index) => (index === swap ? random[index] : coherent(i)[arg.name])),
              ),
            },
            { weight: 3, arbitrary: fc.nat(SIZE - 1).map((i) => field.args.map((arg) => coherent(i)[arg.name])) },
          )
        : random;
      return fc.record({
        field: fc.constant(field),
        values,
        inline: fc.boolean(),
        // Mostly keys that may delete something (A's admin and member), so valid calls go through.
        key: fc.oneof({ weight: 3, arbitrary: fc.constant(keys[0]!) }, { weight: 3, arbitrary: fc.constant(keys[1]!) }, { weight: 1, arbitrary: fc.constantFrom(keys[2]!, keys[3]!) }),
        fault: providerFault,
      });
    });
}

const SIMULATORS = ['aitronos', 'revai', 'scriptix', 'daily'] as const;

async function runMutation({
  field,
  values,
  inline,
  key,
  fault,
}: {
  field: (typeof mutationFields)[number];
  values: unknown[];
  inline: boolean;
  key: string;
  fault: { status: number; retryAfter?: string; body?: string; contentType?: string } | undefined;
}) {
  for (const name of SIMULATORS) {
    t.simulators[name].clearFaults();
    if (fault) t.simulators[name].pushFault(fault);
  }
  const args = field.args;
  const declared = args.map((a) => `$${a.name}: ${typeText(a.type)}`).join(', ');
  const passed = inline ? args.map((a, i) => `${a.name}: ${literal(values[i], a.type)}`).join(', ') : args.map((a) => `${a.name}: $${a.name}`).join(', ');
  const query = inline
    ? `mutation { result: ${field.name}(${passed}) { __typename ... on Error { code } } }`
    : `mutation(${declared}) { result: ${field.name}(${passed}) { __typename ... on Error { code } } }`;
  const variables = inline ? undefined : Object.fromEntries(args.map((a, i) => [a.name, values[i]]));
  const before = { state: await catalogState(), providerCalls: providerRequests().length };
  const answer = await send(query, variables, { 'content-type': 'application/json', authorization: `Bearer ${key}` });
  await check(answer, before);
}

describe('fuzzing every mutation argument', () => {
  it(`survives ${RUNS.mutations} random and hostile argument sets across ${mutationFields.length} mutations`, async () => {
    expect(mutationFields.map((f) => f.name)).toEqual(
      expect.arrayContaining(['deleteTranscription', 'deleteSession', 'deleteDocument', 'deleteComment', 'deleteTrack', 'deleteBatchJob', 'registerResources']),
    );
    await fc.assert(
      fc.asyncProperty(mutationCase(mutationFields.filter((f) => f.name !== 'registerResources')), async (input) => {
        ran.mutations += 1;
        await runMutation(input);
      }),
      { numRuns: RUNS.mutations },
    );
  });

  it(`survives ${RUNS.registerResources} random and hostile registerResources inputs`, async () => {
    await fc.assert(
      fc.asyncProperty(mutationCase(mutationFields.filter((f) => f.name === 'registerResources')), async (input) => {
        ran.registerResources += 1;
        await runMutation(input);
      }),
      { numRuns: RUNS.registerResources },
    );
  });
});

describe('fuzzing the request headers', () => {
  const DELETE = `mutation($id: ID!) { result: deleteTranscription(transcriptionId: $id) { __typename ... on Error { code } } }`;
  const headerCase = fc.record({
    authorization: fc.option(
      fc.oneof(
        fc.constantFrom(0, 1, 2, 3).map((i) => `Bearer ${keys[i]}`),
        headerText,
        headerText.map((s) => `Bearer ${s}`),
        headerText.map((s) => `Basic ${s}`),
        fc.constantFrom('Bearer', 'Bearer ', 'bearer sdg_', 'Bearer sdg_' + 'A'.repeat(43), 'Bearer sdg_../../x', `Bearer ${'x'.repeat(4000)}`),
      ),
      { nil: undefined },
    ),
    'x-api-key': fc.option(fc.oneof(fc.constantFrom(0, 1, 2, 3).map((i) => keys[i]!), headerText), { nil: undefined }),
    'x-request-id': fc.option(fc.oneof(headerText, fc.stringMatching(/^[A-Za-z0-9._:-]{1,140}$/)), { nil: undefined }),
    traceparent: fc.option(
      fc.oneof(headerText, fc.constant('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'), fc.stringMatching(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)),
      { nil: undefined },
    ),
    'content-type': fc.oneof(
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/graphql-response+json',
        'application/graphql',
        'text/plain',
        'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
      ),
      headerText,
    ),
    id: idLike,
  });

  it(`survives ${RUNS.headers} random and hostile header sets`, async () => {
    await fc.assert(
      fc.asyncProperty(headerCase, async ({ id, ...given }) => {
        ran.headers += 1;
        for (const name of SIMULATORS) t.simulators[name].clearFaults();
        const headers = Object.fromEntries(Object.entries(given).filter((entry): entry is [string, string] => entry[1] !== undefined));
        const before = { state: await catalogState(), providerCalls: providerRequests().length };
        const answer = await send(DELETE, { id }, headers);
        await check(answer, before);
        const bearer = /^Bearer (sdg_\S+)$/.exec(headers.authorization ?? '')?.[1];
        // An empty X-API-Key header is no key at all (the Bearer one then speaks alone).
        const presented = [bearer, headers['x-api-key']?.trim()].filter((k): k is string => k !== undefined && k !== '');
        // Nothing but a known key, named consistently, gets past authentication.
        if (presented.length === 0 || presented.some((k) => !keys.includes(k)) || new Set(presented).size > 1) {
          expect(answer.json?.data?.result ?? null, answer.text).toBeNull();
        }
      }),
      { numRuns: RUNS.headers },
    );
  });
});

describe('fuzzing the request line over raw sockets', () => {
  // Request targets that are not a path (RFC 9112 §3.2: asterisk-, absolute-, authority-form, no
  // leading slash, "//host"), with odd methods, versions, separators, line endings and Host headers.
  // Whatever arrives: an answer, 4xx, a JSON body, no stack trace.
  const hosts = fc.oneof(
    fc.constantFrom('127.0.0.1', 'localhost', 'other.example', '[::1]', '127.0.0.1:99999', 'user@evil.example', 'a b', 'x/graphql?', '%zz', '', '🎵'),
    headerText,
  );
  const paths = fc.constantFrom('/graphql', '/healthz', '/metrics', '/', '', '/graphql?query=%7Bviewer%7BuserId%7D%7D', '/../etc/passwd');
  const notAPath = fc.string({ unit: printableAscii, minLength: 1, maxLength: 60 }).filter((text) => !text.startsWith('/'));
  const highBytes = fc
    .string({ unit: fc.integer({ min: 0x21, max: 0xff }).map((code) => String.fromCharCode(code)), minLength: 1, maxLength: 40 })
    .filter((text) => !text.startsWith('/'));
  const target = fc.oneof(
    fc.constant('*'),
    fc.tuple(fc.constantFrom('http', 'https', 'HTTP', 'ftp', 'ws', 'javascript', ''), hosts, paths).map(([scheme, host, path]) => `${scheme}://${host}${path}`),
    fc.tuple(hosts, fc.integer({ min: 0, max: 70_000 })).map(([host, port]) => `${host}:${port}`),
    paths.map((path) => path.replace(/^\/+/, '')),
    fc.tuple(hosts, paths).map(([host, path]) => `//${host}${path}`),
    notAPath,
    highBytes,
  );
  const method = fc.oneof(
    fc.constantFrom('GET', 'POST', 'PATCH', 'PUT', 'DELETE', 'OPTIONS', 'HEAD', 'CONNECT', 'TRACE', 'PRI', 'get', 'G ET', ''),
    fc.stringMatching(/^[A-Z]{1,12}$/),
  );
  const version = fc.oneof(
    fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/3', 'HTTP/1.12', 'http/1.1', 'HTTP/1.1 extra', ''),
    headerText,
  );
  const requestLineCase = fc.record({
    method,
    target,
    version,
    separator: fc.constantFrom(' ', '  ', '\t'),
    eol: fc.constantFrom('\r\n', '\n'),
    host: fc.option(hosts, { nil: undefined }),
    close: fc.boolean(),
    emptyBody: fc.boolean(),
  });

  it(`answers ${RUNS.requestLines} malformed request lines with a JSON 4xx, never a 5xx or silence, and keeps serving`, async () => {
    const port = Number(new URL(t.url).port);
    await fc.assert(
      fc.asyncProperty(requestLineCase, async ({ method, target, version, separator, eol, host, close, emptyBody }) => {
        const headers = [...(host !== undefined ? [`Host: ${host}`] : []), ...(close ? ['Connection: close'] : []), ...(emptyBody ? ['Content-Length: 0'] : [])];
        const bytes = `${method}${separator}${target}${separator}${version}${eol}${headers.map((h) => `${h}${eol}`).join('')}${eol}`;
        const answer = await rawRequest(port, Buffer.from(bytes, 'utf8'));
        ran.requestLines += 1;
        if (answer.status >= 500) ran.requestLines5xx += 1;
        if (answer.status === 0) ran.requestLinesUnanswered += 1;
        const shown = JSON.stringify(bytes.slice(0, 300));
        expect(answer.status, `${shown} → ${answer.raw.slice(0, 300)}`).toBeGreaterThanOrEqual(400);
        expect(answer.status, `${shown} → ${answer.raw.slice(0, 300)}`).toBeLessThan(500);
        expect(answer.raw, shown).not.toMatch(STACK_TRACE);
        expect(answer.headers['content-type'], `${shown} → ${answer.raw.slice(0, 300)}`).toMatch(/^application\/json/);
        // A HEAD answer carries no body; every other one is a GraphQL-over-HTTP style error.
        if (answer.body !== '' || method !== 'HEAD') {
          expect(JSON.parse(answer.body), shown).toMatchObject({ errors: [{ message: expect.any(String), extensions: { code: expect.any(String) } }] });
        }
      }),
      { numRuns: RUNS.requestLines },
    );
    console.info(`fuzz: ${ran.requestLines} malformed request lines tried over raw sockets, ${ran.requestLines5xx} answered 5xx, ${ran.requestLinesUnanswered} unanswered`);
    const health = await fetch(`${t.url}/healthz`);
    expect(health.status).toBe(200);
    const viewer = await send('{ viewer { userId } }', undefined, { 'content-type': 'application/json', authorization: `Bearer ${keys[1]}` });
    expect(viewer.json?.data).toEqual({ viewer: { userId: 'bob' } });
  });
});

describe('after the fuzzing', () => {
  it('the audit logs are intact and every provider call went to a well-formed URL', async () => {
    expect(await verifyEveryLog(t.gateway.db)).toMatchObject({ valid: true, problems: [] });
    for (const call of providerRequests()) expect(PROVIDER_ROUTES.some((route) => route.test(call.path)), call.path).toBe(true);
  });
});
