// The checkpoint signing key from the operator's side: `gateway audit keygen` and `gateway audit
// public-key` as child processes, the key file created outside production and required in it, and a
// file that is no Ed25519 key refused at start. The key itself never appears in any output.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSigner, parseVerifierKey } from '../src/audit/note.ts';
import { runGateway, type CliResult } from './support/cli.ts';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gateway-audit-keys-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const lastLine = (text: string) => text.trimEnd().split('\n').at(-1)!;
const PEM_BODY = /-----BEGIN PRIVATE KEY-----\n([\s\S]+?)\n-----END PRIVATE KEY-----/;

/** Neither the PEM nor any line of its base64 body appears in what the command printed. */
function expectNoKeyIn(result: CliResult, pem: string): void {
  const printed = result.stdout + result.stderr;
  expect(printed).not.toContain('PRIVATE KEY');
  for (const line of PEM_BODY.exec(pem)![1]!.split('\n')) expect(printed).not.toContain(line);
}

describe('gateway audit keygen', () => {
  it('writes a new PKCS#8 PEM Ed25519 key with mode 0600 and prints its verifier key last, never the key', async () => {
    const file = join(dir, 'keys', 'new.pem');
    const result = await runGateway(['audit', 'keygen', '--out', file], { AUDIT_KEY_NAME: 'acme-audit' });
    expect(result.code).toBe(0);
    const pem = readFileSync(file, 'utf8');
    expect(pem.startsWith('-----BEGIN PRIVATE KEY-----\n')).toBe(true);
    expect(createPrivateKey(pem).asymmetricKeyType).toBe('ed25519');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(lastLine(result.stdout)).toBe(loadSigner(pem, 'acme-audit').verifierKey);
    expectNoKeyIn(result, pem);
  });

  it('refuses to overwrite an existing file, leaving it as it was, and needs --out', async () => {
    const file = join(dir, 'existing.pem');
    writeFileSync(file, 'keep me\n');
    const refused = await runGateway(['audit', 'keygen', '--out', file], {});
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('already exists');
    expect(readFileSync(file, 'utf8')).toBe('keep me\n');
    const usage = await runGateway(['audit', 'keygen'], {});
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--out FILE');
  });
});

describe('gateway audit public-key', () => {
  it("prints the configured key's verifier key (signed-note format) alone on the last line", async () => {
    const file = join(dir, 'operator.pem');
    expect((await runGateway(['audit', 'keygen', '--out', file], {})).code).toBe(0);
    const pem = readFileSync(file, 'utf8');
    const [named, byOrigin] = await Promise.all([
      runGateway(['audit', 'public-key'], { AUDIT_SIGNING_KEY_FILE: file, AUDIT_KEY_NAME: 'acme-2026' }),
      runGateway(['audit', 'public-key'], { AUDIT_SIGNING_KEY_FILE: file, AUDIT_LOG_ORIGIN: 'example.com/deletions' }),
    ]);
    expect(named.code).toBe(0);
    expect(lastLine(named.stdout)).toBe(loadSigner(pem, 'acme-2026').verifierKey);
    const parsed = parseVerifierKey(lastLine(named.stdout));
    expect(parsed.ok && parsed.key.keyName).toBe('acme-2026');
    // Without AUDIT_KEY_NAME the key is named after the origin.
    expect(lastLine(byOrigin.stdout)).toBe(loadSigner(pem, 'example.com/deletions').verifierKey);
    for (const result of [named, byOrigin]) expectNoKeyIn(result, pem);
  });

  it('creates a missing key file outside production (mode 0600, directory included), and keeps using it', async () => {
    const file = join(dir, 'fresh', 'nested', 'audit-signing-key.pem');
    const first = await runGateway(['audit', 'public-key'], { AUDIT_SIGNING_KEY_FILE: file });
    expect(first.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.stderr).toContain('created a new audit signing key');
    const again = await runGateway(['audit', 'public-key'], { AUDIT_SIGNING_KEY_FILE: file });
    expect(lastLine(again.stdout)).toBe(lastLine(first.stdout));
    expect(again.stderr).not.toContain('created');
    expectNoKeyIn(first, readFileSync(file, 'utf8'));
  });

  it('refuses in production when the key file is missing, naming AUDIT_SIGNING_KEY_FILE, and creates nothing', async () => {
    const file = join(dir, 'absent', 'key.pem');
    const result = await runGateway(['audit', 'public-key'], { NODE_ENV: 'production', AUDIT_SIGNING_KEY_FILE: file });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^configuration error: AUDIT_SIGNING_KEY_FILE: .*does not exist/m);
    expect(existsSync(file)).toBe(false);
  });
});

describe('a key file that is not an Ed25519 PKCS#8 PEM key', () => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ed = generateKeyPairSync('ed25519');
  const cases: [string, string][] = [
    ['an RSA private key', rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()],
    ['an Ed25519 public key', ed.publicKey.export({ type: 'spki', format: 'pem' }).toString()],
    ['a PKCS#8 header around garbage', '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5IGF0IGFsbA==\n-----END PRIVATE KEY-----\n'],
    ['an empty file', ''],
  ];
  it.each(cases)('is a start-up error naming the variable, never echoing the file: %s', async (what, content) => {
    const file = join(dir, `${what.replace(/\W+/g, '-')}.pem`);
    writeFileSync(file, content, { mode: 0o600 });
    const result = await runGateway(['audit', 'public-key'], { AUDIT_SIGNING_KEY_FILE: file });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^configuration error: AUDIT_SIGNING_KEY_FILE: .*is not an Ed25519 private key in PKCS#8 PEM/m);
    expect(result.stdout).toBe('');
    for (const line of content.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'))) expect(result.stderr).not.toContain(line);
    // The file is left alone.
    expect(readFileSync(file, 'utf8')).toBe(content);
  });
});

describe('gateway serve and the signing key', () => {
  const credentials = { AITRONOS_API_KEY: 'a', SCRIPTIX_API_KEY: 's', DAILY_API_KEY: 'd', REVAI_ACCESS_TOKEN: 'r' };

  it('refuses to start in production without the key file, or with a file that is no key, naming AUDIT_SIGNING_KEY_FILE', async () => {
    const notAKey = join(dir, 'serve-not-a-key.pem');
    writeFileSync(notAKey, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx7\n');
    const [missing, wrong] = await Promise.all([
      runGateway(['serve'], { NODE_ENV: 'production', PORT: '0', DATABASE_PATH: join(dir, 'serve-missing.db'), AUDIT_SIGNING_KEY_FILE: join(dir, 'no-such.pem'), ...credentials }),
      runGateway(['serve'], { NODE_ENV: 'production', PORT: '0', DATABASE_PATH: join(dir, 'serve-wrong.db'), AUDIT_SIGNING_KEY_FILE: notAKey, ...credentials }),
    ]);
    for (const refused of [missing, wrong]) {
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toMatch(/^configuration error: AUDIT_SIGNING_KEY_FILE: /m);
      expect(refused.stdout).not.toMatch(/listening/);
    }
    expect(missing.stderr).toContain('does not exist');
    expect(existsSync(join(dir, 'no-such.pem'))).toBe(false);
    expect(wrong.stderr).not.toContain('AAAAC3NzaC1lZDI1NTE5AAAAIGx7');
  });
});
