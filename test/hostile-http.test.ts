// Requests no well-behaved client sends, over raw sockets: a request target that is not a path, a bad
// Host, bad framing, oversize headers. Each is answered before any routing with a 4xx and a JSON error
// body, never a 5xx, never a stack trace, never silence; and the server goes on answering.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';
import { STACK_TRACE, rawRequest, type RawAnswer } from './support/raw-http.ts';

let t: TestGateway;
let port: number;

beforeAll(async () => {
  t = await startTestGateway();
  port = Number(new URL(t.url).port);
});
afterAll(async () => {
  await t?.close();
});

/** A complete request: the request line, then headers, then the blank line. */
const request = (line: string, headers: string[] = ['Host: 127.0.0.1', 'Connection: close'], body = '') => `${line}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

function expectJsonError(answer: RawAnswer, status: number, code: string): void {
  expect(answer.status, answer.raw).toBe(status);
  expect(answer.headers['content-type'], answer.raw).toMatch(/^application\/json/);
  expect(JSON.parse(answer.body)).toMatchObject({ errors: [{ message: expect.any(String), extensions: { code } }] });
  expect(answer.raw).not.toMatch(STACK_TRACE);
}

const CASES: [string, string, number, string][] = [
  ['an asterisk-form target (OPTIONS *)', request('OPTIONS * HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['an asterisk-form target (POST *)', request('POST * HTTP/1.1', ['Host: 127.0.0.1', 'Content-Type: application/json', 'Content-Length: 2'], '{}'), 400, 'BAD_REQUEST'],
  ['an absolute-form target to another host', request('PATCH http://other.example/graphql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['an absolute-form target to this very server', request('POST http://127.0.0.1/graphql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['an absolute-form https target with a port', request('GET https://127.0.0.1:4000/healthz HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['an authority-form target (CONNECT host:443)', request('CONNECT host:443 HTTP/1.1', ['Host: host:443']), 405, 'METHOD_NOT_ALLOWED'],
  ['an authority-form target without CONNECT', request('GET host:443 HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['a target without its leading slash', request('GET graphql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['a query without a path', request('GET ?query=%7Bviewer%7BuserId%7D%7D HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['a target a URL parser reads as another host (//evil/graphql)', request('POST //evil.example/graphql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['a Host header with a space', request('GET /graphql HTTP/1.1', ['Host: a b', 'Connection: close']), 400, 'BAD_REQUEST'],
  ['a Host header with a path in it', request('GET /healthz HTTP/1.1', ['Host: x/graphql?', 'Connection: close']), 400, 'BAD_REQUEST'],
  ['a Host header with a port out of range', request('GET /graphql HTTP/1.1', ['Host: 127.0.0.1:99999', 'Connection: close']), 400, 'BAD_REQUEST'],
  ['an HTTP/1.1 request with no Host', request('GET /graphql HTTP/1.1', ['Connection: close']), 400, 'BAD_REQUEST'],
  ['an unknown method', request('FROB /graphql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['an HTTP/2 preface on HTTP/1.1', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 400, 'BAD_REQUEST'],
  ['a request line that is one word', request('HELLO'), 400, 'BAD_REQUEST'],
  ['a control character in the target', request('GET /graph\u0001ql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['a non-ASCII byte in the target', request('GET /graph\u00e9ql HTTP/1.1'), 400, 'BAD_REQUEST'],
  ['two different Content-Lengths', request('POST /graphql HTTP/1.1', ['Host: 127.0.0.1', 'Content-Length: 2', 'Content-Length: 3'], '{}'), 400, 'BAD_REQUEST'],
  ['a chunk size that is not hex', request('POST /graphql HTTP/1.1', ['Host: 127.0.0.1', 'Transfer-Encoding: chunked', 'Content-Type: application/json'], 'zz\r\n{}\r\n0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['both Transfer-Encoding and Content-Length', request('POST /graphql HTTP/1.1', ['Host: 127.0.0.1', 'Transfer-Encoding: chunked', 'Content-Length: 5'], '0\r\n\r\n'), 400, 'BAD_REQUEST'],
  ['a header line without a colon', request('GET /graphql HTTP/1.1', ['Host: 127.0.0.1', 'this is not a header']), 400, 'BAD_REQUEST'],
  ['headers larger than node accepts', request('GET /graphql HTTP/1.1', ['Host: 127.0.0.1', `X-Big: ${'a'.repeat(20_000)}`]), 431, 'REQUEST_HEADER_FIELDS_TOO_LARGE'],
  ['an Expect other than 100-continue', request('POST /graphql HTTP/1.1', ['Host: 127.0.0.1', 'Expect: teapot', 'Connection: close']), 417, 'EXPECTATION_FAILED'],
];

describe('hostile HTTP', () => {
  it.each(CASES)('answers %s with a JSON 4xx and no stack trace', async (_name, bytes, status, code) => {
    expectJsonError(await rawRequest(port, bytes), status, code);
  });

  it('still answers a normal request afterwards, on HTTP and GraphQL', async () => {
    for (const [, bytes] of CASES) await rawRequest(port, bytes);
    const health = await rawRequest(port, request('GET /healthz HTTP/1.1'));
    expect(health.status).toBe(200);
    const viewer = await t.gql(t.keys.member, '{ viewer { organizationId userId } }');
    expect(viewer.status).toBe(200);
    expect(viewer.body.data).toEqual({ viewer: { organizationId: ORG, userId: 'bob' } });
  });
});
