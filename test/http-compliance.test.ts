// GraphQL over HTTP: graphql-http's server audits against the real gateway. Every MUST passes;
// SHOULD and MAY audits that do not are reported (a summary line), not failed.
import { serverAudits, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';

let t: TestGateway | undefined;
const results: AuditResult[] = [];

// The audits are listed before the gateway exists: they read the URL and the key when they run.
const audits = serverAudits({
  url: () => `${t!.url}/graphql`,
  // A real client sends its key: without one the gateway answers 401 before any GraphQL handling.
  fetchFn: (input: RequestInfo | URL, init: RequestInit = {}) => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${t!.keys.viewer}`);
    return fetch(input, { ...init, headers });
  },
});

beforeAll(async () => {
  t = await startTestGateway();
});
afterAll(async () => {
  const count = (status: string) => results.filter((r) => r.status === status).length;
  const notOk = results.filter((r) => r.status !== 'ok').map((r) => `  ${r.status}: ${r.name}${'reason' in r ? ` (${r.reason})` : ''}`);
  console.log(
    [`graphql-http server audits: ${count('ok')} pass, ${count('warn') + count('notice')} warn, ${count('error')} fail (of ${audits.length})`, ...notOk].join('\n'),
  );
  await t?.close();
});

describe('graphql-http server audits', () => {
  it.each(audits.map((audit) => [audit.name, audit] as const))('%s', async (_name, audit) => {
    const result = await audit.fn();
    results.push(result);
    if (result.status === 'ok') return;
    await result.response.body?.cancel();
    if (audit.name.startsWith('MUST')) expect.fail(`${audit.id} ${audit.name}: ${result.reason}`);
  });
});
