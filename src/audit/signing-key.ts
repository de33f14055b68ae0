// The key that signs the audit logs' checkpoints: read once at start from AUDIT_SIGNING_KEY_FILE
// (a PKCS#8 PEM Ed25519 private key). Outside production a missing file is created with a new key;
// in production it is a start-up error. Nothing here ever prints or returns the key itself: errors
// name the variable and the path, and what leaves this module is a signer and its public half.
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { ConfigError, type AuditSigningConfig } from '../config.ts';
import { generateSigningKeyPem, loadSigner, type NoteSigner } from './note.ts';

const VARIABLE = 'AUDIT_SIGNING_KEY_FILE';

/** What signs checkpoints: the key, and the origin prefix of every log (`{logOrigin}/{logId}`). */
export interface AuditSigning {
  logOrigin: string;
  key: NoteSigner;
}

export interface LoadedSigningKey {
  signing: AuditSigning;
  /** The file did not exist and a new key was written to it (outside production only). */
  created: boolean;
  /** The file's permission bits when group or others may read it (e.g. 0o644), else null. */
  exposedMode: number | null;
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'unknown error';
}

/**
 * Writes `pem` to a new file at `path` with mode 0600, creating its directory (0700). Never replaces
 * an existing file: returns false when one is already there. The key is written to a temporary file,
 * flushed, then linked into place, so a process that finds the file finds a whole key, and two
 * processes creating it at once end up using the same one.
 */
export function writeNewKeyFile(path: string, pem: string): boolean {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  // The mode of openSync is what the file is created with (umask can only narrow it).
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    writeSync(fd, pem);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if (errorCode(error) === 'EEXIST') return false;
    throw error;
  } finally {
    rmSync(temporary, { force: true });
  }
  try {
    // The new name itself is durable once its directory is.
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    // Some file systems do not fsync directories; the key is written either way.
  }
  return true;
}

const NOT_A_KEY = 'is not an Ed25519 private key in PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); `gateway audit keygen --out FILE` writes one';

/**
 * Loads the signing key of `settings`, creating it outside production when the file is missing.
 * Throws a ConfigError naming AUDIT_SIGNING_KEY_FILE when it cannot.
 */
export function loadSigningKey(settings: AuditSigningConfig, production: boolean): LoadedSigningKey {
  const path = settings.signingKeyFile;
  let created = false;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw new ConfigError(VARIABLE, `cannot read ${path} (${errorCode(error)})`);
    if (production) {
      throw new ConfigError(
        VARIABLE,
        `${path} does not exist. In production the audit signing key must be provided: create one with \`gateway audit keygen --out FILE\`, keep it secret and backed up, and point ${VARIABLE} at it`,
      );
    }
    try {
      created = writeNewKeyFile(path, generateSigningKeyPem());
      pem = readFileSync(path);
    } catch (writeError) {
      throw new ConfigError(VARIABLE, `${path} does not exist and a new key cannot be written there (${errorCode(writeError)})`);
    }
  }
  // PKCS#8 only (what keygen writes and the README documents): not a public key, not an OpenSSH or
  // encrypted key, which node:crypto would refuse later with a less helpful message.
  if (!pem.toString('latin1').includes('-----BEGIN PRIVATE KEY-----')) throw new ConfigError(VARIABLE, `${path} ${NOT_A_KEY}`);
  let key: NoteSigner;
  try {
    key = loadSigner(pem, settings.keyName);
  } catch (error) {
    // loadSigner's reasons name a key type or a PEM decoder error, never key material.
    throw new ConfigError(VARIABLE, `${path} ${NOT_A_KEY} (${(error as Error).message})`);
  }
  const mode = statSync(path).mode & 0o777;
  return { signing: { logOrigin: settings.logOrigin, key }, created, exposedMode: (mode & 0o077) === 0 ? null : mode };
}

/** The configured key when its file exists (never creating one): for checks that can do without it. */
export function existingSigningKey(settings: AuditSigningConfig): AuditSigning | null {
  return existsSync(settings.signingKeyFile) ? loadSigningKey(settings, true).signing : null;
}
