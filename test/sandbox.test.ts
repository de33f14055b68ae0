import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { freePort, runGateway, startGatewayProcess, type GatewayProcess } from './support/cli.ts';

let dir: string;
let port: number;
let gateway: GatewayProcess;
let banner: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-sandbox-'));
  port = await freePort();
  // What `npm start` does on a fresh machine: no credentials, NODE_ENV unset.
  gateway = startGatewayProcess(['serve'], { DATABASE_PATH: join(dir, 'gateway.db'), PORT: String(port) });
  banner = await gateway.waitFor(/Simulators[\s\S]*\n={78}\n/);
});
afterAll(async () => {
  if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function printed(label: RegExp): string {
  const match = label.exec(banner);
  if (!match?.[1]) throw new Error(`the banner has no ${label}:\n${banner}`);
  return match[1];
}

describe('npm start on a fresh machine (sandbox)', () => {
  it('prints a SANDBOX banner with the GraphiQL URL and an admin, a member and a viewer key', () => {
    expect(banner).toContain('SANDBOX');
    expect(printed(/GraphiQL:\s+(\S+)/)).toBe(`http://127.0.0.1:${port}/graphql`);
    const keys = [/Admin key:\s+(\S+)/, /Member key:\s+(\S+)/, /Viewer key:\s+(\S+)/].map(printed);
    for (const key of keys) expect(key).toMatch(/^sdg_[A-Za-z0-9_-]{43}$/);
    expect(new Set(keys).size).toBe(3);
  });

  it('lets the printed member key delete the printed demo transcription at the simulator', async () => {
    const member = printed(/Member key:\s+(\S+)/);
    const transcriptionId = printed(/deleteTranscription\(transcriptionId: "(trans_[^"]+)"\)/);
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${member}` },
      body: JSON.stringify({
        query: `mutation($id: ID!) { deleteTranscription(transcriptionId: $id) {
          __typename ... on TranscriptionDeletion { transcriptionId deleted deletedUpstream upstream { status } } } }`,
        variables: { id: transcriptionId },
      }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      data: { deleteTranscription: { __typename: 'TranscriptionDeletion', transcriptionId, deleted: true, deletedUpstream: true, upstream: { status: 'DELETED' } } },
    });
  });

  it('serves GraphiQL at /graphql for a browser, from local files only', async () => {
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/html/);
    const html = await response.text();
    expect(html).toMatch(/graphiql/i);
    const external = [...html.matchAll(/<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=\s*["']?((?:https?:)?\/\/[^"'\s>]+)/gi)].map((m) => m[1]);
    expect(external).toEqual([]);
    expect(html).not.toMatch(/unpkg\.com|jsdelivr|cdnjs|esm\.sh/);
  });

  it('has a demo data subject at all five providers: erased from the CLI, delivered by the server, with a receipt that verifies', async () => {
    const subject = printed(/Demo data subject:\s+(\S+)/);
    const env = { DATABASE_PATH: join(dir, 'gateway.db') };
    const requested = await runGateway(['erasure', 'request', '--org', 'org_demo', '--subject', subject, '--reason', 'demo ticket 1'], env);
    expect(requested.code, requested.stderr).toBe(0);
    expect(requested.stdout).toContain('8 resources');
    const id = requested.stdout.trim().split('\n').at(-1)!;
    let state: { status: string; providers: { provider: string }[] } = { status: 'RUNNING', providers: [] };
    for (let i = 0; i < 100 && state.status === 'RUNNING'; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      state = JSON.parse((await runGateway(['erasure', 'status', id], env)).stdout);
    }
    expect(state.status).toBe('COMPLETED');
    expect(state.providers.map((p) => p.provider)).toEqual(['AITRONOS_AUDIO', 'AITRONOS_MUSIC', 'DAILY', 'REV_AI', 'SCRIPTIX']);
    const receipt = await runGateway(['erasure', 'receipt', id], env);
    expect(receipt.code, receipt.stderr).toBe(0);
    const key = (await runGateway(['audit', 'public-key'], env)).stdout.trim().split('\n').at(-1)!;
    writeFileSync(join(dir, 'receipt.json'), receipt.stdout);
    const verified = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['scripts/verify-receipt.mjs', join(dir, 'receipt.json'), '--key', key], (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout))),
    );
    expect(verified).toContain('8 item(s) confirmed deleted by their providers (AITRONOS_AUDIO, AITRONOS_MUSIC, DAILY, REV_AI, SCRIPTIX)');
  }, 60_000);

  it('exits 0 on SIGTERM', async () => {
    gateway.child.kill('SIGTERM');
    const result = await gateway.exited(20_000);
    expect(result.signal).toBeNull();
    expect(result.code).toBe(0);
  });
});
