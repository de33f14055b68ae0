import * as crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  checkpointBody,
  generateSigningKeyPem,
  isValidKeyName,
  keyIdOf,
  loadSigner,
  parseCheckpoint,
  parseVerifierKey,
  verifierKeyOf,
  verifyCheckpoint,
  verifyNote,
} from '../src/audit/note.ts';

// Published vectors of golang.org/x/mod/sumdb/note, note_test.go (TestNewVerifier, TestNewSigner,
// TestSign, TestOpen). The signer key there is "PRIVATE+KEY+PeterNeumann+c74f20a3+" followed by
// base64(0x01 || Ed25519 seed); Ed25519 is deterministic, so the same seed must give the same bytes.
const PETER_SIGNER_KEY = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const PETER_KEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const ENOCH_KEY = 'EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop';
const TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
const PETER_SIG = '— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';
const ENOCH_SIG = '— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n';

/** The Go signer key's seed as the PKCS#8 PEM the gateway loads (RFC 8410 §7: the fixed DER prefix of an Ed25519 private key). */
function pemOfGoSignerKey(goKey: string): string {
  const encoded = goKey.split('+').slice(4).join('+');
  const raw = Buffer.from(encoded, 'base64');
  expect(raw[0]).toBe(0x01);
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), raw.subarray(1)]);
  return crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('signed notes: the sumdb/note vectors', () => {
  const peter = loadSigner(pemOfGoSignerKey(PETER_SIGNER_KEY), 'PeterNeumann');

  it('derives the published key id and verifier key from the PeterNeumann key', () => {
    expect(peter.keyId).toBe('c74f20a3');
    expect(peter.verifierKey).toBe(PETER_KEY);
    expect(keyIdOf('PeterNeumann', peter.publicKey)).toBe('c74f20a3');
    expect(verifierKeyOf('PeterNeumann', peter.publicKey)).toBe(PETER_KEY);
  });

  it('signs the published text to the published note, byte for byte', () => {
    expect(peter.sign(TEXT)).toBe(`${TEXT}\n${PETER_SIG}`);
  });

  it('verifies the published notes with each known key and ignores the other signature', () => {
    const both = `${TEXT}\n${PETER_SIG}${ENOCH_SIG}`;
    expect(verifyNote(`${TEXT}\n${PETER_SIG}`, PETER_KEY)).toEqual({ ok: true, body: TEXT });
    expect(verifyNote(both, PETER_KEY)).toEqual({ ok: true, body: TEXT });
    expect(verifyNote(both, ENOCH_KEY)).toEqual({ ok: true, body: TEXT });
    expect(verifyNote(`${TEXT}\n${ENOCH_SIG}${PETER_SIG}${PETER_SIG}`, PETER_KEY)).toEqual({ ok: true, body: TEXT });
  });

  it('rejects a note the key did not sign', () => {
    const result = verifyNote(`${TEXT}\n${ENOCH_SIG}`, PETER_KEY);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problem).toMatch(/no signature by key PeterNeumann\+c74f20a3 \(the note is signed by EnochRoot\+af0cfe78\)/);
  });

  it('rejects the malformed notes of TestOpen', () => {
    const bad = [
      TEXT,
      `${TEXT}\n`,
      `${TEXT}\n${PETER_SIG.slice(0, -1)}`,
      `\x01${TEXT}\n${PETER_SIG}`,
      // Go's "\xff" is invalid UTF-8; a JavaScript string cannot hold that, its counterpart is a lone surrogate.
      `\ud800${TEXT}\n${PETER_SIG}`,
      `${TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=`,
      `${TEXT}\n${PETER_SIG}Unexpected line.\n`,
      `${TEXT}\n${PETER_SIG.repeat(101)}`,
    ];
    for (const note of bad) {
      const result = verifyNote(note, PETER_KEY);
      expect(result.ok, JSON.stringify(note)).toBe(false);
      expect(!result.ok && result.problem, JSON.stringify(note)).toMatch(/malformed note/);
    }
  });

  it('rejects an altered signature, and signatures under another name or key id (TestOpen)', () => {
    // TestOpen inserts "ABCD" at byte 60 of the line; byte 60 is character 58 here (the em dash is 3 bytes in UTF-8).
    const inserted = `${PETER_SIG.slice(0, 58)}ABCD${PETER_SIG.slice(58)}`;
    expect(verifyNote(`${TEXT}\n${inserted}`, PETER_KEY)).toMatchObject({ ok: false, problem: expect.stringMatching(/does not verify/) });
    expect(verifyNote(`${TEXT}\n${PETER_SIG.replaceAll('PeterNeumann', 'CarmenSandiego')}`, PETER_KEY)).toMatchObject({ ok: false, problem: expect.stringMatching(/no signature by key/) });
    expect(verifyNote(`${TEXT}\n${PETER_SIG.replaceAll('x08g', 'xxxx')}`, PETER_KEY)).toMatchObject({ ok: false, problem: expect.stringMatching(/no signature by key/) });
  });

  it('accepts only the exact verifier key: every substring and every one-character change of it is refused (TestNewVerifier)', () => {
    expect(parseVerifierKey(PETER_KEY)).toMatchObject({ ok: true, key: { keyName: 'PeterNeumann', keyId: 'c74f20a3' } });
    for (let i = 0; i <= PETER_KEY.length; i += 1) {
      for (let j = i + 1; j <= PETER_KEY.length; j += 1) {
        if (i === 0 && j === PETER_KEY.length) continue;
        expect(parseVerifierKey(PETER_KEY.slice(i, j)).ok, PETER_KEY.slice(i, j)).toBe(false);
      }
    }
    for (let i = 0; i < PETER_KEY.length; i += 1) {
      const changed = PETER_KEY.slice(0, i) + String.fromCharCode(PETER_KEY.charCodeAt(i) + 1) + PETER_KEY.slice(i + 1);
      expect(parseVerifierKey(changed).ok, changed).toBe(false);
    }
    // Wrong key length and unknown algorithm, each with a key id that matches it (TestNewVerifier).
    expect(parseVerifierKey('PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==').ok).toBe(false);
    expect(parseVerifierKey('PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW').ok).toBe(false);
    expect(parseVerifierKey(PETER_KEY.replace('c74f20a3', 'C74F20A3')).ok).toBe(false);
    expect(parseVerifierKey(42).ok).toBe(false);
  });
});

describe('signed notes: our keys', () => {
  const signer = loadSigner(generateSigningKeyPem(), 'speech-deletion-gateway');
  const body = checkpointBody('speech-deletion-gateway/org_a', 12, crypto.randomBytes(32));

  it('signs a note that verifies with its own verifier key, and formats key id and verifier key as signed-note does', () => {
    const note = signer.sign(body);
    expect(note.startsWith(`${body}\n— speech-deletion-gateway `)).toBe(true);
    expect(note.endsWith('\n')).toBe(true);
    expect(verifyNote(note, signer.verifierKey)).toEqual({ ok: true, body });
    expect(signer.keyId).toMatch(/^[0-9a-f]{8}$/);
    const expectedId = crypto
      .createHash('sha256')
      .update(Buffer.concat([Buffer.from('speech-deletion-gateway\n'), Buffer.from([0x01]), signer.publicKey]))
      .digest()
      .subarray(0, 4)
      .toString('hex');
    expect(signer.keyId).toBe(expectedId);
    expect(signer.verifierKey).toBe(`speech-deletion-gateway+${expectedId}+${Buffer.concat([Buffer.from([1]), signer.publicKey]).toString('base64')}`);
    const line = note.slice(body.length + 1);
    const signature = Buffer.from(line.slice('— speech-deletion-gateway '.length, -1), 'base64');
    expect(signature.length).toBe(68);
    expect(signature.subarray(0, 4).toString('hex')).toBe(signer.keyId);
  });

  it('rejects an altered body, an altered signature and a wrong key', () => {
    const note = signer.sign(body);
    expect(verifyNote(note.replace('\n12\n', '\n13\n'), signer.verifierKey)).toMatchObject({ ok: false, problem: expect.stringMatching(/does not verify/) });
    // A character well inside the signature bytes (past the 4-byte key id).
    const at = note.length - 20;
    const altered = note.slice(0, at) + (note[at] === 'A' ? 'B' : 'A') + note.slice(at + 1);
    expect(verifyNote(altered, signer.verifierKey)).toMatchObject({ ok: false, problem: expect.stringMatching(/does not verify/) });
    const other = loadSigner(generateSigningKeyPem(), 'speech-deletion-gateway');
    expect(verifyNote(note, other.verifierKey)).toMatchObject({ ok: false, problem: expect.stringMatching(/no signature by key/) });
    // The same name and key id with another public key (a forged id collision) still fails.
    const forged = { keyName: signer.keyName, keyId: signer.keyId, publicKey: other.publicKey, text: 'forged' };
    expect(verifyNote(note, forged)).toMatchObject({ ok: false, problem: expect.stringMatching(/does not verify/) });
    expect(verifyNote(note, 'not a key')).toMatchObject({ ok: false, problem: expect.stringMatching(/verifier key/) });
    expect(verifyNote(undefined, signer.verifierKey).ok).toBe(false);
    expect(verifyNote(note.replace('— ', '- '), signer.verifierKey)).toMatchObject({ ok: false, problem: expect.stringMatching(/em dash/) });
    expect(verifyNote(note.replaceAll('\n', '\r\n'), signer.verifierKey)).toMatchObject({ ok: false, problem: expect.stringMatching(/malformed/) });
  });

  it('refuses a key that is not Ed25519, a broken PEM and a bad key name, saying so', () => {
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadSigner(rsa, 'k')).toThrow(/must be an Ed25519 private key .* got rsa/);
    expect(() => loadSigner(ec, 'k')).toThrow(/must be an Ed25519 private key .* got ec/);
    expect(() => loadSigner('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n', 'k')).toThrow(/not a readable PKCS#8 PEM/);
    const pem = generateSigningKeyPem();
    for (const name of ['', 'a+b', 'a b', 'a\tb', 'a\u00a0b']) {
      expect(isValidKeyName(name), JSON.stringify(name)).toBe(false);
      expect(() => loadSigner(pem, name)).toThrow(/key name/);
    }
    expect(isValidKeyName('speech-deletion-gateway/eu')).toBe(true);
  });

  it('refuses to sign text that a note cannot carry', () => {
    expect(() => signer.sign('no final newline')).toThrow(/end with a newline/);
    expect(() => signer.sign('')).toThrow(/non-empty/);
    expect(() => signer.sign('tab\there\n')).toThrow(/control characters/);
  });

  it('verifies and parses a signed checkpoint in one step', () => {
    const root = crypto.randomBytes(32);
    const note = signer.sign(checkpointBody('speech-deletion-gateway/org_b', 7, root));
    const result = verifyCheckpoint(note, signer.verifierKey);
    expect(result).toEqual({ ok: true, checkpoint: { origin: 'speech-deletion-gateway/org_b', size: 7, rootHash: root } });
    expect(verifyCheckpoint(note.replace('\n7\n', '\n8\n'), signer.verifierKey).ok).toBe(false);
  });
});

describe('checkpoint bodies', () => {
  const root = Buffer.alloc(32, 7);
  const rootText = root.toString('base64');

  it('writes origin, decimal size and base64 root on three lines, and reads them back', () => {
    const body = checkpointBody('speech-deletion-gateway/org_a', 12, root);
    expect(body).toBe(`speech-deletion-gateway/org_a\n12\n${rootText}\n`);
    expect(parseCheckpoint(body)).toEqual({ ok: true, checkpoint: { origin: 'speech-deletion-gateway/org_a', size: 12, rootHash: root } });
    expect(parseCheckpoint(checkpointBody('o', 0, root))).toMatchObject({ ok: true, checkpoint: { size: 0 } });
  });

  it('reads the example of the C2SP tlog-checkpoint spec', () => {
    const parsed = parseCheckpoint('example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n');
    expect(parsed).toMatchObject({ ok: true, checkpoint: { origin: 'example.com/behind-the-sofa', size: 20852163 } });
  });

  it('refuses extra or missing lines, non-canonical sizes, bad base64 and roots that are not 32 bytes', () => {
    const bad: [string, string][] = [
      ['no final newline', `o\n12\n${rootText}`],
      ['missing line', `o\n12\n`],
      ['extension line', `o\n12\n${rootText}\nextra\n`],
      ['blank line', `o\n12\n${rootText}\n\n`],
      ['empty origin', `\n12\n${rootText}\n`],
      ['leading zero', `o\n012\n${rootText}\n`],
      ['sign', `o\n+12\n${rootText}\n`],
      ['negative', `o\n-1\n${rootText}\n`],
      ['decimal point', `o\n12.0\n${rootText}\n`],
      ['exponent', `o\n1e3\n${rootText}\n`],
      ['space', `o\n 12\n${rootText}\n`],
      ['too large', `o\n9007199254740993\n${rootText}\n`],
      ['carriage return', `o\r\n12\n${rootText}\n`],
      ['unpadded base64', `o\n12\n${rootText.replace(/=+$/, '')}\n`],
      ['non-canonical base64 (padding bits set)', `o\n12\n${rootText.slice(0, 42)}x=\n`],
      ['url-safe base64', `o\n12\n${Buffer.alloc(32, 0xfb).toString('base64url')}=\n`],
      ['31-byte root', `o\n12\n${Buffer.alloc(31).toString('base64')}\n`],
      ['33-byte root', `o\n12\n${Buffer.alloc(33).toString('base64')}\n`],
    ];
    for (const [what, body] of bad) expect(parseCheckpoint(body).ok, what).toBe(false);
    expect(parseCheckpoint(null).ok).toBe(false);
  });

  it('refuses to write a checkpoint it could not read back', () => {
    expect(() => checkpointBody('', 1, root)).toThrow(RangeError);
    expect(() => checkpointBody('a\nb', 1, root)).toThrow(RangeError);
    expect(() => checkpointBody('o', -1, root)).toThrow(RangeError);
    expect(() => checkpointBody('o', 1.5, root)).toThrow(RangeError);
    expect(() => checkpointBody('o', 1, root.subarray(1))).toThrow(RangeError);
  });
});
