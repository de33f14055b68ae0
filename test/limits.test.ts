// Abuse limits in front of the internet: armor rules, body size, one operation per request, CSRF
// prevention, the per-key mutation rate limit, and introspection / GraphiQL on or off — each checked
// against the real server, with every legitimate operation of the docs still passing.
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock, Runtime } from '../src/runtime.ts';
import { randomId } from '../src/runtime.ts';
import { sandboxQuery } from '../src/sandbox.ts';
import { EXAMPLE_QUERY } from '../src/server.ts';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };

/** The introspection query GraphiQL sends, with every option on (the largest form). */
const GRAPHIQL_INTROSPECTION = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});

async function post(t: TestGateway, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, body: (text.startsWith('{') ? JSON.parse(text) : null) as { data?: any; errors?: any[] } | null };
}

/** `n` directives, each allowed where it stands (@include and @skip are not repeatable). */
function directivesQuery(n: number): string {
  const fields = Array.from({ length: Math.ceil(n / 2) }, (_, i) => {
    const twice = 2 * i + 1 < n;
    return `f${i}: viewer @include(if: true)${twice ? ' @skip(if: false)' : ''} { userId }`;
  });
  return `{ ${fields.join(' ')} }`;
}

async function fieldsOf(t: TestGateway, type: 'Query' | 'Mutation'): Promise<string[]> {
  const answer = await t.gql(t.keys.admin, `{ __type(name: "${type}") { fields { name } } }`);
  return (answer.body.data as any).__type.fields.map((f: { name: string }) => f.name);
}

let t: TestGateway;
let queryFields: string[];

beforeAll(async () => {
  t = await startTestGateway();
  queryFields = await fieldsOf(t, 'Query');
});
afterAll(async () => {
  await t?.close();
});

describe('legitimate operations pass every limit', () => {
  it("runs both operations of GraphiQL's example query", async () => {
    for (const operationName of ['WhoAmI', 'DeleteTranscription']) {
      const named = await post(t, { query: EXAMPLE_QUERY, operationName }, { authorization: `Bearer ${t.keys.admin}` });
      expect(named.status).toBe(200);
      expect(named.body!.errors).toBeUndefined();
    }
  });

  it('runs every operation of the sandbox query against real demo-shaped resources', async () => {
    const ids = {
      aitronosTranscription: 'trans_limitsdemo',
      revaiTranscriptionInProgress: 'revlimitsdemo',
      revaiTranscription: 'revlimitsdone',
      session: 'sess_limitsdemo',
      document: 'doc_limitsdemo',
      comment: 'cmt_limitsdemo',
      track: 'mtrack_limitsdemo',
      batchJob: 'b6a1c0de-0000-4000-8000-000000000001',
      erasureSubject: 'limits-subject',
    };
    await t.register([
      { kind: 'TRANSCRIPTION', id: ids.aitronosTranscription, provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'alice' },
      { kind: 'TRANSCRIPTION', id: ids.revaiTranscriptionInProgress, provider: 'REV_AI', organizationId: ORG, ownerId: 'alice' },
      { kind: 'TRANSCRIPTION', id: ids.revaiTranscription, provider: 'REV_AI', organizationId: ORG, ownerId: 'alice' },
      { kind: 'SESSION', id: ids.session, organizationId: ORG, ownerId: 'alice' },
      { kind: 'DOCUMENT', id: ids.document, sessionId: ids.session, organizationId: ORG, ownerId: 'alice' },
      { kind: 'COMMENT', id: ids.comment, sessionId: ids.session, documentId: ids.document, organizationId: ORG, ownerId: 'alice' },
      { kind: 'TRACK', id: ids.track, organizationId: ORG, ownerId: 'alice' },
      { kind: 'BATCH_JOB', id: ids.batchJob, organizationId: ORG, ownerId: 'alice' },
      { kind: 'TRACK', id: 'mtrack_limitssubject', organizationId: ORG, ownerId: ids.erasureSubject },
    ]);
    // The sandbox names its organisation in deleteTrack; here the track lives in the test's.
    const query = sandboxQuery(ids).replaceAll('"org_demo"', `"${ORG}"`);
    const operations = [...query.matchAll(/^(?:mutation|query) (\w+)/gm)].map((match) => match[1]!);
    expect(operations).toEqual([
      'DeleteDemoTranscription',
      'DeleteDemoRevAiJobInProgress',
      'DeleteDemoComment',
      'DeleteDemoDocument',
      'DeleteDemoTrack',
      'DeleteDemoBatchJob',
      'DeleteDemoSession',
      'PreviewDemoCleanup',
      'EraseDemoSubject',
      'DemoErasureStatus',
      'DemoReceipt',
    ]);
    for (const operationName of operations) {
      const answer = await post(t, { query, operationName }, { authorization: `Bearer ${t.keys.admin}` });
      expect(answer.body!.errors, operationName).toBeUndefined();
      const result = Object.values(answer.body!.data as Record<string, { __typename?: string }>)[0];
      if (operationName === 'PreviewDemoCleanup') expect(result, operationName).toMatchObject({ __typename: 'DeleteResourcesPayload', validateOnly: true, rejected: 0 });
      else if (operationName === 'EraseDemoSubject') expect(result, operationName).toMatchObject({ __typename: 'ErasureRequest', status: 'RUNNING', totals: { resources: 1 } });
      // Until its id is pasted in, the status query asks about no request.
      else if (operationName === 'DemoErasureStatus') expect(result, operationName).toBeNull();
      else if (operationName !== 'DemoReceipt') expect(result?.__typename, operationName).toMatch(/Deletion$/);
    }
    const receipt = await post(t, { query, operationName: 'DemoReceipt' }, { authorization: `Bearer ${t.keys.admin}` });
    expect(receipt.body!.data.resource.deletionReceipt.length).toBeGreaterThan(0);
  });

  it("runs the README's registerResources example", async () => {
    const query = `mutation {
      registerResources(resources: [
        { kind: TRANSCRIPTION, provider: AITRONOS_AUDIO, id: "trans_a1b2c3", organizationId: "${ORG}", ownerId: "alice" }
        { kind: SESSION, id: "5f1c0d9e", organizationId: "${ORG}", ownerId: "alice" }
        { kind: DOCUMENT, id: "d41d8cd9", sessionId: "5f1c0d9e", organizationId: "${ORG}", ownerId: "alice" }
      ]) {
        __typename
        ... on RegisterResourcesPayload { registered }
        ... on ValidationError { field message }
        ... on Error { code message }
      }
    }`;
    const answer = await t.gql(t.keys.admin, query);
    expect(answer.body.errors).toBeUndefined();
    expect(answer.body.data!.registerResources).toEqual({ __typename: 'RegisterResourcesPayload', registered: 3 });
  });

  it("answers GraphiQL's own introspection query, with and without a key", async () => {
    const keyless: Record<string, string> = {};
    for (const headers of [keyless, { authorization: `Bearer ${t.keys.viewer}` }]) {
      const answer = await post(t, { query: GRAPHIQL_INTROSPECTION, operationName: 'IntrospectionQuery' }, headers);
      expect(answer.status).toBe(200);
      expect(answer.body!.errors).toBeUndefined();
      expect(answer.body!.data.__schema.mutationType.name).toBe('Mutation');
    }
  });

  it('serves a full page of 100 audit events or upstream deletions with every field', async ({ skip }) => {
    const pages = [
      ['auditEvents', 'id at actor organizationId action resourceKind resourceId provider outcome requestId traceId upstreamHttpStatus details previousHash hash'],
      ['upstreamDeletions', 'kind resourceId provider status attempts lastHttpStatus lastError reason nextAttemptAt completedAt createdAt providerResponse'],
    ].filter(([field]) => queryFields.includes(field!));
    if (pages.length === 0) skip('auditEvents / upstreamDeletions are not in the schema yet');
    for (const [field, selection] of pages) {
      const answer = await t.gql(t.keys.admin, `{ ${field}(first: 100) { edges { cursor node { ${selection} } } pageInfo { hasNextPage endCursor } } }`);
      expect(answer.body.errors, field).toBeUndefined();
    }
  });

  it('takes ten aliases and ten directives', async () => {
    const aliases = Array.from({ length: 10 }, (_, i) => `a${i}: viewer { userId }`).join(' ');
    expect((await t.gql(t.keys.viewer, `{ ${aliases} }`)).body.errors).toBeUndefined();
    expect((await t.gql(t.keys.viewer, directivesQuery(10))).body.errors).toBeUndefined();
  });
});

describe('abusive operations are refused before execution', () => {
  const refusedWith = (answer: Awaited<ReturnType<typeof post>>, code: string, message: RegExp) => {
    expect(answer.status).toBe(400);
    expect(answer.body!.data).toBeUndefined();
    expect(answer.body!.errors).toEqual(expect.arrayContaining([expect.objectContaining({ message: expect.stringMatching(message), extensions: expect.objectContaining({ code }) })]));
  };
  const key = () => ({ authorization: `Bearer ${t.keys.admin}` });

  it('refuses eleven aliases (one request may not multiply work)', async () => {
    const aliases = Array.from({ length: 11 }, (_, i) => `a${i}: viewer { userId }`).join(' ');
    refusedWith(await post(t, { query: `{ ${aliases} }` }, key()), 'GRAPHQL_VALIDATION_FAILED', /Aliases limit of 10/);
  });

  it('refuses eleven aliased deletes without calling any provider', async () => {
    const before = t.simulators.aitronos.requests.length;
    const deletes = Array.from({ length: 11 }, (_, i) => `d${i}: deleteTranscription(transcriptionId: "trans_a1b2c3") { __typename }`).join(' ');
    refusedWith(await post(t, { query: `mutation { ${deletes} }` }, key()), 'GRAPHQL_VALIDATION_FAILED', /Aliases limit/);
    expect(t.simulators.aitronos.requests.length).toBe(before);
  });

  it('refuses a selection nested deeper than 8', async () => {
    const deep = `{ viewer ${'{ a '.repeat(9)}${'}'.repeat(9)} }`;
    refusedWith(await post(t, { query: deep }, key()), 'GRAPHQL_VALIDATION_FAILED', /depth limit of 8/);
  });

  it('refuses eleven directives', async () => {
    refusedWith(await post(t, { query: directivesQuery(11) }, key()), 'GRAPHQL_VALIDATION_FAILED', /Directives limit of 10/);
  });

  it('refuses more than 2000 tokens', async () => {
    refusedWith(await post(t, { query: `{ viewer { ${'userId '.repeat(2001)} } }` }, key()), 'GRAPHQL_PARSE_FAILED', /Token limit of 2000/);
  });

  it('refuses a list page whose cost is over 20,000', async () => {
    const field = queryFields.includes('auditEvents') ? 'auditEvents' : 'resourcePage';
    const query = `{ ${field}(first: 5000) { edges { node { id at actor action outcome hash } } } }`;
    refusedWith(await post(t, { query }, key()), 'GRAPHQL_VALIDATION_FAILED', /Cost limit of 20000/);
  });

  it('refuses a body over 1 MiB with 413, with or without a Content-Length', async () => {
    const body = JSON.stringify({ query: '{ viewer { userId } }', variables: { padding: 'x'.repeat(1024 * 1024) } });
    const declared = await post(t, body, key());
    expect(declared.status).toBe(413);
    expect(declared.body!.errors![0].extensions.code).toBe('REQUEST_ENTITY_TOO_LARGE');

    const bytes = new TextEncoder().encode(body);
    const chunked = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, ...key() },
      body: new ReadableStream({
        start(controller) {
          for (let at = 0; at < bytes.length; at += 64 * 1024) controller.enqueue(bytes.slice(at, at + 64 * 1024));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);
  });

  it('refuses a JSON array of operations (no batching)', async () => {
    const answer = await post(t, [{ query: '{ viewer { userId } }' }, { query: '{ viewer { role } }' }], key());
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.status).toBeLessThan(500);
    expect(answer.text).not.toContain('alice');
  });
});

describe('CSRF prevention', () => {
  it('lets a plain fetch with content-type application/json through, with a key header', async () => {
    const answer = await post(t, { query: '{ viewer { userId } }' }, { 'x-api-key': t.keys.member });
    expect(answer.status).toBe(200);
    expect(answer.body!.data.viewer.userId).toBe('bob');
  });

  it('refuses what a cross-site form or image could send: a simple POST or a GET without a preflighted header', async () => {
    const form = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'query=%7B__typename%7D' });
    expect(form.status).toBe(403);
    const text = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{"query":"{ __typename }"}' });
    expect(text.status).toBe(403);
    const get = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json' } });
    expect(get.status).toBe(403);
  });

  it('takes a GET that carries the key or the x-graphql-yoga-csrf header', async () => {
    const withKey = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ viewer { userId } }')}`, { headers: { authorization: `Bearer ${t.keys.admin}` } });
    expect(await withKey.json()).toEqual({ data: { viewer: { userId: 'alice' } } });
    const withHeader = await fetch(`${t.url}/graphql?query=${encodeURIComponent('{ __typename }')}`, { headers: { 'x-graphql-yoga-csrf': '1' } });
    expect(await withHeader.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it('still serves the GraphiQL page to a browser navigation', async () => {
    const page = await fetch(`${t.url}/graphql`, { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('Speech deletion gateway');
  });
});

describe('per-key rate limit of mutations (RATE_LIMIT_PER_MINUTE=5)', () => {
  let limited: TestGateway;
  let now = Date.parse('2026-03-02T14:00:00.000Z');
  const clock: Clock = { now: () => new Date(now) };
  const runtime: Runtime = { clock, newId: randomId, random: () => 0.5 };
  const DELETE = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }`;

  beforeAll(async () => {
    limited = await startTestGateway({ env: { RATE_LIMIT_PER_MINUTE: '5' }, runtime });
  });
  afterAll(async () => {
    await limited?.close();
  });

  it('answers the sixth mutation of a minute with 429, Retry-After and RATE_LIMITED; other keys and queries go on', async () => {
    for (let i = 0; i < 5; i += 1) {
      const ok = await limited.gql(limited.keys.member, DELETE, { id: `trans_nothere${i}` });
      expect(ok.status).toBe(200);
      expect(ok.body.data!.deleteTranscription.__typename).toBe('NotFoundError');
    }
    const sixth = await limited.gql(limited.keys.member, DELETE, { id: 'trans_nothere6' });
    expect(sixth.status).toBe(429);
    expect(Number(sixth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(sixth.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(sixth.body.errors![0]!.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    expect(sixth.body.data ?? null).toBeNull();

    expect((await limited.gql(limited.keys.member, '{ viewer { userId } }')).status).toBe(200);
    expect((await limited.gql(limited.keys.member2, DELETE, { id: 'trans_nothere7' })).status).toBe(200);

    now += 60_000;
    expect((await limited.gql(limited.keys.member, DELETE, { id: 'trans_nothere8' })).status).toBe(200);
  });

  it('counts each aliased delete of one request against the limit', async () => {
    now += 60_000;
    const three = `mutation { a: deleteTranscription(transcriptionId: "trans_x1") { __typename } b: deleteTranscription(transcriptionId: "trans_x2") { __typename } c: deleteTranscription(transcriptionId: "trans_x3") { __typename } }`;
    expect((await limited.gql(limited.keys.admin, three)).status).toBe(200);
    expect((await limited.gql(limited.keys.admin, three)).status).toBe(429);
  });
});

describe('introspection and GraphiQL by environment', () => {
  const introspect = (g: TestGateway) => g.gql(g.keys.admin, '{ __schema { queryType { name } } }');
  const graphiqlPage = (g: TestGateway) => fetch(`${g.url}/graphql`, { headers: { accept: 'text/html' } });

  it('are on in development and the sandbox (the default outside production)', async () => {
    expect((await introspect(t)).body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    expect((await graphiqlPage(t)).headers.get('content-type')).toContain('text/html');
  });

  it('are off with NODE_ENV=production, and field suggestions are masked', async () => {
    const production = await startTestGateway({ env: { NODE_ENV: 'production' } });
    try {
      const introspection = await introspect(production);
      expect(introspection.body.data, production.logs.join('')).toBeUndefined();
      expect(introspection.body.errors![0]!.message, production.logs.join('')).toMatch(/introspection/i);
      const keyless = await post(production, { query: '{ __typename }' });
      expect(keyless.status).toBe(401);
      const page = await graphiqlPage(production);
      expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
      await page.arrayBuffer();
      const typo = await production.gql(production.keys.admin, '{ viewer { userid } }');
      expect(typo.body.errors![0]!.message).not.toMatch(/Did you mean/);
      expect((await production.gql(production.keys.admin, '{ viewer { userId } }')).body.data).toEqual({ viewer: { userId: 'alice' } });
    } finally {
      await production.close();
    }
  });

  it('can be turned on in production with GRAPHIQL=1 and INTROSPECTION=1', async () => {
    const production = await startTestGateway({ env: { NODE_ENV: 'production', GRAPHIQL: '1', INTROSPECTION: '1' } });
    try {
      expect((await introspect(production)).body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      const page = await graphiqlPage(production);
      expect(page.headers.get('content-type')).toContain('text/html');
      await page.arrayBuffer();
    } finally {
      await production.close();
    }
  });
});
