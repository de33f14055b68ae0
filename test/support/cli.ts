// Runs the real `gateway` CLI (src/main.ts) as a child process, the way an operator or `npm start` does.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface GatewayProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with stdout once it matches; rejects when the process exits first or time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited (killed after timeoutMs). */
  exited(timeoutMs?: number): Promise<CliResult>;
}

/**
 * Only what the child needs from this process: the test runner's own variables (NODE_ENV=test,
 * VITEST…) must not decide what the CLI does; each test names the environment it means.
 */
function childEnv(env: Record<string, string>): Record<string, string> {
  const base: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  // A command that signs checkpoints creates its key where AUDIT_SIGNING_KEY_FILE says, by default
  // ./data of the repository: never let a test that did not name one write there.
  return { ...base, AUDIT_SIGNING_KEY_FILE: spareKeyFile(), ...env };
}

let spareDir: string | null = null;
function spareKeyFile(): string {
  if (!spareDir) {
    const dir = mkdtempSync(join(tmpdir(), 'gateway-cli-key-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    spareDir = dir;
  }
  return join(spareDir, 'audit-signing-key.pem');
}

export interface ProcessOptions {
  /** Run the compiled CLI (bin/gateway.mjs → dist/, as `npm start` does) instead of src/ through tsx. */
  compiled?: boolean;
  /** The working directory (default: the repository). */
  cwd?: string;
}

export function startGatewayProcess(args: string[], env: Record<string, string>, options: ProcessOptions = {}): GatewayProcess {
  const entry = options.compiled ? [resolve(REPO_ROOT, 'bin/gateway.mjs')] : ['--import', 'tsx', 'src/main.ts'];
  const child = spawn(process.execPath, [...entry, ...args], { cwd: options.cwd ?? REPO_ROOT, env: childEnv(env) });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const closed = new Promise<CliResult>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
  const describe = () => `gateway ${args.join(' ')}\nstdout: ${stdout}\nstderr: ${stderr}`;
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolvePromise, reject) => {
        const check = () => {
          if (!pattern.test(stdout)) return;
          stop();
          resolvePromise(stdout);
        };
        const timer = setTimeout(() => {
          stop();
          reject(new Error(`no ${pattern} on stdout in time: ${describe()}`));
        }, timeoutMs);
        const onClose = () => {
          stop();
          if (pattern.test(stdout)) resolvePromise(stdout);
          else reject(new Error(`exited before printing ${pattern}: ${describe()}`));
        };
        const stop = () => {
          clearTimeout(timer);
          child.stdout.off('data', check);
          child.off('close', onClose);
        };
        // Registered after the accumulating listener, so `stdout` already holds the new chunk.
        child.stdout.on('data', check);
        child.once('close', onClose);
        check();
      });
    },
    async exited(timeoutMs = 30_000) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`did not exit in time: ${describe()}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([closed, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** Runs one command to completion. */
export function runGateway(args: string[], env: Record<string, string>, timeoutMs = 30_000, options: ProcessOptions = {}): Promise<CliResult> {
  return startGatewayProcess(args, env, options).exited(timeoutMs);
}

/** A port that was free a moment ago: listen on 0, read it, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolvePromise) => server.listen(0, '127.0.0.1', resolvePromise));
  const { port } = server.address() as { port: number };
  await new Promise((resolvePromise) => server.close(resolvePromise));
  return port;
}
