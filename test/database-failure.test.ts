// A database that fails while the gateway looks up the caller's key (a dropped connection, a restart,
// a broken schema) is an internal error like any other: masked ("Unexpected error.", 500, JSON), the
// driver's message and our stack in the log at most, never in the answer; the next request, once the
// database is back, succeeds. The key is looked up before yoga parses the request, where a thrown error
// used to reach whatwg-node, which answers with the error's stack as text/plain.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_TRACE } from './support/raw-http.ts';
import { ORG, startTestGateway, type TestGateway } from './support/harness.ts';

const DELETE = `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename } }`;

describe('the database failing while a key is looked up', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway();
    await t.register([{ kind: 'TRANSCRIPTION', id: 'trans_dbfail', provider: 'AITRONOS_AUDIO', organizationId: ORG, ownerId: 'bob' }]);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers a masked 500 in JSON, changes nothing, and serves the next request once the database is back', async () => {
    await t.sqlRun('ALTER TABLE api_keys RENAME TO api_keys_away');
    let text: string;
    let status: number;
    try {
      const response = await fetch(`${t.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t.keys.member}` },
        body: JSON.stringify({ query: DELETE, variables: { id: 'trans_dbfail' } }),
      });
      status = response.status;
      text = await response.text();
      expect(response.headers.get('content-type')).toMatch(/json/);
      expect(response.headers.get('x-request-id')).toMatch(/^req_/);
    } finally {
      await t.sqlRun('ALTER TABLE api_keys_away RENAME TO api_keys');
    }
    expect(status).toBe(500);
    const body = JSON.parse(text);
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toEqual([expect.objectContaining({ message: 'Unexpected error.', extensions: expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR' }) })]);
    expect(text).not.toMatch(STACK_TRACE);
    expect(text).not.toMatch(/api_keys|no such table|relation|SQL/i);
    expect(text).not.toContain(t.keys.member);

    const deleted = await t.sql("SELECT id FROM resources WHERE id = 'trans_dbfail' AND deleted_at IS NOT NULL");
    expect(deleted).toEqual([]);
    expect(t.simulators.aitronos.requests.filter((r) => r.path.includes('trans_dbfail'))).toEqual([]);

    const again = await t.gql(t.keys.member, DELETE, { id: 'trans_dbfail' });
    expect(again.body.data?.deleteTranscription?.__typename, JSON.stringify(again.body)).toBe('TranscriptionDeletion');
    expect(t.logs.join('\n')).not.toContain(t.keys.member);
  });
});
