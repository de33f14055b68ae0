// The real gateway as a child process (`node --import tsx src/main.ts …`), for tests that kill it:
// simulators run in the test process, the database is a temp file both sides open.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Simulators } from '../../src/simulators/launcher.ts';
import { providerEnv } from './harness.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildGateway {
  child: ChildProcess;
  url: string;
  /** What the process wrote to stderr so far (LOG_LEVEL=warn and above, crashes). */
  stderr(): string;
  /** What the process wrote to stdout so far (its log lines). */
  stdout(): string;
  exited: Promise<Exit>;
}

/**
 * The environment of a gateway pointed at the in-process simulators, with nothing from the test
 * runner; `database` is a TestDatabase's env (DATABASE_PATH or DATABASE_URL, AUDIT_SIGNING_KEY_FILE).
 */
export function childEnv(database: Record<string, string>, simulators: Simulators, extra: Record<string, string> = {}): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  return {
    ...base,
    NODE_ENV: 'test',
    SANDBOX: '0',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    ...database,
    ...providerEnv(simulators),
    ...extra,
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

const live = new Set<ChildProcess>();

/** Kills what a failed test left running (each child this module started, by its own handle). */
export function killLeftovers(): void {
  for (const child of live) child.kill('SIGKILL');
}

function spawnCli(args: string[], env: Record<string, string>) {
  // node itself, not npx: a signal must reach the gateway, not a wrapper.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<Exit>((resolveExit, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolveExit({ code, signal }));
  });
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

/** `gateway serve` on a free port; resolves once /healthz answers. */
export async function startChildGateway(env: Record<string, string>, timeoutMs = 30_000): Promise<ChildGateway> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const run = spawnCli(['serve'], { ...env, PORT: String(port) });
  let exit: Exit | null = null;
  void run.exited.then((e) => (exit = e));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exit) throw new Error(`gateway exited before it was ready (${JSON.stringify(exit)}): ${run.stderr()}`);
    if (Date.now() > deadline) {
      run.child.kill('SIGKILL');
      throw new Error(`gateway not ready within ${timeoutMs} ms: ${run.stderr()}`);
    }
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { child: run.child, url, stderr: run.stderr, stdout: run.stdout, exited: run.exited };
}

/** `gateway worker`: the retry worker alone (it serves nothing, so there is nothing to wait for). */
export function startChildWorker(env: Record<string, string>): { child: ChildProcess; stderr(): string; exited: Promise<Exit> } {
  const run = spawnCli(['worker'], env);
  return { child: run.child, stderr: run.stderr, exited: run.exited };
}

/** A short CLI command (`audit verify`, …) to completion. */
export async function runCli(args: string[], env: Record<string, string>): Promise<Exit & { stdout: string; stderr: string }> {
  const run = spawnCli(args, env);
  const exit = await run.exited;
  return { ...exit, stdout: run.stdout(), stderr: run.stderr() };
}

/** Waits for a condition another process (or a server) brings about: bounded, never a timing assertion. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
