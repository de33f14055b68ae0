// Signed checkpoints of an audit log: the C2SP tlog-checkpoint body (c2sp.org/tlog-checkpoint) in a
// C2SP signed note (c2sp.org/signed-note, the format of golang.org/x/mod/sumdb/note) with Ed25519.
// The same text Go's note.Open, the Go checksum database's clients and transparency-dev tools read.
//
//   speech-deletion-gateway/org_a                origin
//   12                                           tree size, decimal
//   <44 characters of base64>                    root hash
//                                                blank line
//   — speech-deletion-gateway <base64 of 68 bytes>   em dash, key name, base64(key id || signature)
//
// Pure functions over node:crypto; keys come in as PEM text, nothing here reads a file.
import * as crypto from 'node:crypto';

/** What parsing untrusted text gives: the value, or why not (never an exception). */
export type Parsed<K extends string, T> = ({ ok: true } & { [key in K]: T }) | { ok: false; problem: string };

export interface Checkpoint {
  origin: string;
  size: number;
  rootHash: Buffer;
}

export interface VerifierKey {
  keyName: string;
  /** The key id, 8 lowercase hex digits (its 4 bytes, big-endian). */
  keyId: string;
  /** The 32-byte Ed25519 public key. */
  publicKey: Buffer;
  /** `{keyName}+{keyId}+{base64(0x01 || publicKey)}`. */
  text: string;
}

export interface NoteSigner {
  keyName: string;
  keyId: string;
  publicKey: Buffer;
  /** The verifier key to publish (what `gateway audit public-key` prints). */
  verifierKey: string;
  /** The whole signed note for `body`: the body, a blank line, one signature line. */
  sign(body: string): string;
}

export type NoteVerification = { ok: true; body: string } | { ok: false; problem: string };

// signed-note "Signature types": 0x01 is Ed25519, signing the note text as RFC 8032 defines.
const ED25519 = 0x01;
const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;
const ROOT_HASH_SIZE = 32;
// signed-note: the signature line starts with an em dash (U+2014) and a space.
const SIGNATURE_PREFIX = '\u2014 ';
// signed-note asks verifiers to cap signatures and accept at least 16; Go's note package takes 100.
const MAX_SIGNATURES = 100;

/**
 * signed-note: a key name is non-empty and has no Unicode space and no "+" (the separator of the
 * verifier key). ASCII control characters are never valid in a note either.
 */
export function isValidKeyName(keyName: unknown): keyName is string {
  return typeof keyName === 'string' && keyName !== '' && !/[\s+\u0000-\u001f\u007f]/u.test(keyName) && isWellFormed(keyName);
}

function isWellFormed(text: string): boolean {
  // Lone surrogates would become U+FFFD in UTF-8, so the signed bytes would not be the text.
  return Buffer.from(text, 'utf8').toString('utf8') === text;
}

/** Standard base64 (RFC 4648 §4) in its one canonical spelling, so no two texts mean the same bytes. */
function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

/**
 * signed-note "Ed25519 signatures": key id = SHA-256(key name || 0x0A || 0x01 || public key)[:4],
 * as 8 lowercase hex digits.
 */
export function keyIdOf(keyName: string, publicKey: Uint8Array): string {
  const digest = crypto
    .createHash('sha256')
    .update(keyName, 'utf8')
    .update(Buffer.from([0x0a, ED25519]))
    .update(publicKey)
    .digest();
  return digest.subarray(0, 4).toString('hex');
}

/** The verifier key text `{keyName}+{keyId}+{base64(0x01 || publicKey)}` (sumdb/note's NewVerifier format). */
export function verifierKeyOf(keyName: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(keyName)) throw new RangeError(`invalid key name ${JSON.stringify(keyName)}: non-empty, no spaces, no "+"`);
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE) throw new RangeError(`an Ed25519 public key is 32 bytes, got ${publicKey.length}`);
  return `${keyName}+${keyIdOf(keyName, publicKey)}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString('base64')}`;
}

/** Parses a verifier key, checking that its key id is the one its name and key give. */
export function parseVerifierKey(text: unknown): Parsed<'key', VerifierKey> {
  if (typeof text !== 'string') return { ok: false, problem: 'a verifier key is a string name+keyid+base64key' };
  const parts = text.split('+');
  // The base64 key may itself contain "+": the name and the key id are the first two fields.
  if (parts.length < 3) return { ok: false, problem: 'a verifier key is name+keyid+base64key' };
  const [keyName, keyId] = parts as [string, string];
  const encoded = parts.slice(2).join('+');
  if (!isValidKeyName(keyName)) return { ok: false, problem: `invalid key name ${JSON.stringify(keyName)}` };
  if (!/^[0-9a-f]{8}$/.test(keyId)) return { ok: false, problem: 'the key id of a verifier key is 8 lowercase hex digits' };
  const key = decodeBase64(encoded);
  if (!key) return { ok: false, problem: 'the key of a verifier key is not canonical base64' };
  if (key[0] !== ED25519) return { ok: false, problem: `unsupported signature type 0x${(key[0] ?? 0).toString(16).padStart(2, '0')} (only Ed25519, 0x01)` };
  if (key.length !== 1 + ED25519_PUBLIC_KEY_SIZE) return { ok: false, problem: `an Ed25519 verifier key holds 32 key bytes, got ${key.length - 1}` };
  const publicKey = key.subarray(1);
  if (keyIdOf(keyName, publicKey) !== keyId) return { ok: false, problem: `key id ${keyId} does not match the name and key (expected ${keyIdOf(keyName, publicKey)})` };
  return { ok: true, key: { keyName, keyId, publicKey: Buffer.from(publicKey), text } };
}

/** A new Ed25519 private key as PKCS#8 PEM (what AUDIT_SIGNING_KEY_FILE holds). */
export function generateSigningKeyPem(): string {
  return crypto.generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function rawPublicKey(key: crypto.KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('the Ed25519 key has no public part');
  return Buffer.from(jwk.x, 'base64url');
}

/** signed-note: the note text is non-empty, ends in a newline, valid UTF-8, no control characters but newline. */
function noteTextProblem(text: string): string | null {
  if (text === '' || !text.endsWith('\n')) return 'the note text must be non-empty and end with a newline';
  if (/[\u0000-\u0009\u000b-\u001f]/.test(text)) return 'the note text must not contain control characters other than newline';
  if (!isWellFormed(text)) return 'the note text must be valid Unicode (no lone surrogates)';
  return null;
}

/**
 * A signer from a PKCS#8 PEM Ed25519 private key. Throws on anything else (a PEM of another key type,
 * an encrypted or broken PEM, an invalid key name): a misconfigured key is a start-up error.
 */
export function loadSigner(pem: string | Buffer, keyName: string): NoteSigner {
  if (!isValidKeyName(keyName)) throw new Error(`invalid audit key name ${JSON.stringify(keyName)}: it must be non-empty, with no spaces and no "+"`);
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(pem);
  } catch (error) {
    throw new Error(`the audit signing key is not a readable PKCS#8 PEM private key: ${(error as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error(`the audit signing key must be an Ed25519 private key (PKCS#8 PEM), got ${privateKey.asymmetricKeyType ?? 'an unknown key type'}`);
  }
  const publicKey = rawPublicKey(crypto.createPublicKey(privateKey));
  const keyId = keyIdOf(keyName, publicKey);
  const keyIdBytes = Buffer.from(keyId, 'hex');
  return {
    keyName,
    keyId,
    publicKey,
    verifierKey: verifierKeyOf(keyName, publicKey),
    sign(body: string): string {
      const problem = noteTextProblem(body);
      if (problem) throw new Error(`cannot sign: ${problem}`);
      // RFC 8032 Ed25519 signs the message itself (no pre-hash): one-shot crypto.sign with a null digest.
      const signature = crypto.sign(null, Buffer.from(body, 'utf8'), privateKey);
      return `${body}\n${SIGNATURE_PREFIX}${keyName} ${Buffer.concat([keyIdBytes, signature]).toString('base64')}\n`;
    },
  };
}

interface SignatureLine {
  keyName: string;
  keyId: string;
  signature: Buffer;
}

/** Splits a signed note into its text and signature lines (signed-note "Format"), or says why not. */
function parseNote(note: string): { body: string; signatures: SignatureLine[] } | string {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) return 'malformed note: control characters other than newline';
  if (!isWellFormed(note)) return 'malformed note: not valid Unicode';
  // The text may itself hold blank lines: it ends at the last one.
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return 'malformed note: no blank line before the signatures';
  const body = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) return 'malformed note: no signature lines, or the last one does not end with a newline';
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) return `malformed note: more than ${MAX_SIGNATURES} signatures`;
  const signatures: SignatureLine[] = [];
  for (const line of lines) {
    if (!line.startsWith(SIGNATURE_PREFIX)) return `malformed note: a signature line must start with an em dash and a space: ${JSON.stringify(line.slice(0, 40))}`;
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(' ');
    const keyName = space < 0 ? '' : rest.slice(0, space);
    const bytes = space < 0 ? null : decodeBase64(rest.slice(space + 1));
    if (!isValidKeyName(keyName) || !bytes || bytes.length < 5) return `malformed note: bad signature line ${JSON.stringify(line.slice(0, 40))}`;
    signatures.push({ keyName, keyId: bytes.subarray(0, 4).toString('hex'), signature: bytes.subarray(4) });
  }
  return { body, signatures };
}

/**
 * The signed text of a note and the keys (`name+keyid`) of its signature lines, without checking any
 * signature: for comparing a stored note with what it claims. Never throws.
 */
export function openNote(noteText: unknown): { ok: true; body: string; signedBy: string[] } | { ok: false; problem: string } {
  if (typeof noteText !== 'string') return { ok: false, problem: 'a signed note is text' };
  const note = parseNote(noteText);
  if (typeof note === 'string') return { ok: false, problem: note };
  return { ok: true, body: note.body, signedBy: note.signatures.map((s) => `${s.keyName}+${s.keyId}`) };
}

function ed25519PublicKey(raw: Buffer): crypto.KeyObject {
  return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * Verifies a signed note with one verifier key: the key's signature must be there and verify over
 * the note text exactly (its final newline included). As signed-note requires, lines of other keys
 * (another name or key id) are ignored; a line of this key that does not verify fails the note.
 * Never throws.
 */
export function verifyNote(noteText: unknown, verifierKey: string | VerifierKey): NoteVerification {
  try {
    if (typeof noteText !== 'string') return { ok: false, problem: 'a signed note is text' };
    let key: VerifierKey;
    if (typeof verifierKey === 'string') {
      const parsed = parseVerifierKey(verifierKey);
      if (!parsed.ok) return { ok: false, problem: `verifier key: ${parsed.problem}` };
      key = parsed.key;
    } else {
      key = verifierKey;
    }
    const note = parseNote(noteText);
    if (typeof note === 'string') return { ok: false, problem: note };
    const textProblem = noteTextProblem(note.body);
    if (textProblem) return { ok: false, problem: `malformed note: ${textProblem}` };
    const mine = note.signatures.filter((s) => s.keyName === key.keyName && s.keyId === key.keyId);
    if (mine.length === 0) {
      const present = note.signatures.map((s) => `${s.keyName}+${s.keyId}`).join(', ');
      return { ok: false, problem: `no signature by key ${key.keyName}+${key.keyId} (the note is signed by ${present})` };
    }
    const publicKey = ed25519PublicKey(key.publicKey);
    const message = Buffer.from(note.body, 'utf8');
    for (const { signature } of mine) {
      if (signature.length !== ED25519_SIGNATURE_SIZE || !crypto.verify(null, message, publicKey, signature)) {
        return { ok: false, problem: `the signature by key ${key.keyName}+${key.keyId} does not verify: the note text or the signature was changed, or another key signed it` };
      }
    }
    return { ok: true, body: note.body };
  } catch (error) {
    return { ok: false, problem: `cannot verify: ${(error as Error).message}` };
  }
}

/** C2SP tlog-checkpoint: origin, size in decimal, base64 root hash, each line ending in a newline. */
export function checkpointBody(origin: string, size: number, rootHash: Uint8Array): string {
  if (typeof origin !== 'string' || origin === '' || /[\u0000-\u001f\u007f]/.test(origin) || !isWellFormed(origin)) {
    throw new RangeError(`invalid checkpoint origin ${JSON.stringify(origin)}: one non-empty line`);
  }
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid tree size ${String(size)}`);
  if (rootHash.length !== ROOT_HASH_SIZE) throw new RangeError(`a root hash is 32 bytes, got ${rootHash.length}`);
  return `${origin}\n${size}\n${Buffer.from(rootHash).toString('base64')}\n`;
}

/**
 * Parses a checkpoint body strictly: exactly the three lines this gateway writes. (tlog-checkpoint
 * allows extension lines after the root; this log never writes any, so one appearing means the text
 * is not ours.) Sizes beyond Number.MAX_SAFE_INTEGER are refused rather than rounded.
 */
export function parseCheckpoint(body: unknown): Parsed<'checkpoint', Checkpoint> {
  if (typeof body !== 'string') return { ok: false, problem: 'a checkpoint is text' };
  if (!body.endsWith('\n')) return { ok: false, problem: 'a checkpoint ends with a newline' };
  const lines = body.slice(0, -1).split('\n');
  if (lines.length !== 3) return { ok: false, problem: `a checkpoint has exactly three lines (origin, size, root hash), got ${lines.length}` };
  const [origin, sizeText, rootText] = lines as [string, string, string];
  if (origin === '' || /[\u0000-\u001f\u007f]/.test(origin) || !isWellFormed(origin)) return { ok: false, problem: 'the checkpoint origin must be a non-empty line of text' };
  // tlog-checkpoint: ASCII decimal with no leading zeroes (0 for the empty tree).
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) return { ok: false, problem: `the checkpoint size ${JSON.stringify(sizeText)} is not a canonical decimal` };
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) return { ok: false, problem: `the checkpoint size ${sizeText} is too large` };
  const rootHash = decodeBase64(rootText);
  if (!rootHash) return { ok: false, problem: 'the checkpoint root hash is not canonical base64' };
  if (rootHash.length !== ROOT_HASH_SIZE) return { ok: false, problem: `the checkpoint root hash is ${rootHash.length} bytes, not 32` };
  return { ok: true, checkpoint: { origin, size, rootHash } };
}

/** A signed checkpoint note, verified with `verifierKey` and parsed. Never throws. */
export function verifyCheckpoint(noteText: unknown, verifierKey: string | VerifierKey): Parsed<'checkpoint', Checkpoint> {
  const verified = verifyNote(noteText, verifierKey);
  if (!verified.ok) return verified;
  return parseCheckpoint(verified.body);
}
