// What production runs: `npm run build` (tsc → dist/), then bin/gateway.mjs with plain node, no
// TypeScript loader, from a working directory outside the repository. A build that breaks (an
// import tsc does not rewrite, a file resolved relative to src/) fails here.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, runGateway, startGatewayProcess, type GatewayProcess } from './support/cli.ts';

let dir: string;
let gateway: GatewayProcess | undefined;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-compiled-'));
  const build = spawnSync('npm', ['run', 'build'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 120_000 });
  if (build.status !== 0) throw new Error(`npm run build failed (${build.status ?? build.signal}):\n${build.stdout}\n${build.stderr}`);
}, 150_000);
afterAll(() => {
  if (gateway && gateway.child.exitCode === null) gateway.child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the compiled gateway (dist/)', () => {
  it('migrates a fresh database, finding its migrations from dist/ whatever the working directory', async () => {
    const result = await runGateway(['migrate'], { DATABASE_PATH: join(dir, 'migrated.db') }, 30_000, { compiled: true, cwd: dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('migrations applied');
  });

  it('serves: health, and a delete through GraphQL at the sandbox simulators; exits 0 on SIGTERM', async () => {
    const port = await freePort();
    gateway = startGatewayProcess(['serve'], { DATABASE_PATH: join(dir, 'served.db'), PORT: String(port) }, { compiled: true, cwd: dir });
    const banner = await gateway.waitFor(/Simulators[\s\S]*\n={78}\n/);
    const url = `http://127.0.0.1:${port}`;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const admin = /Admin key:\s+(\S+)/.exec(banner)?.[1];
    const transcriptionId = /deleteTranscription\(transcriptionId: "(trans_[^"]+)"\)/.exec(banner)?.[1];
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${admin}` },
      body: JSON.stringify({
        query: 'mutation($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { deletedUpstream } } }',
        variables: { id: transcriptionId },
      }),
    });
    expect(await response.json()).toEqual({ data: { deleteTranscription: { __typename: 'TranscriptionDeletion', deletedUpstream: true } } });
    gateway.child.kill('SIGTERM');
    const exit = await gateway.exited(20_000);
    expect(exit.code).toBe(0);
  });
});
