#!/usr/bin/env node
// Checks a deletion receipt (`sdg-receipt/1`) without the gateway and without trusting its database:
// no project imports, only node:crypto and node:fs, so an auditor can read all of it.
//
//   node scripts/verify-receipt.mjs receipt.json --key 'speech-deletion-gateway+1a2b3c4d+AbC…'
//
// The verifier key must come from the gateway's operator (`gateway audit public-key`), not from the
// receipt: without --key the receipt's own `publicKey` is used, with a warning, and then the check
// proves only that the receipt is consistent with itself.
//
// Checks, in this order; the first kind of failure ends the run with exit 1, naming every problem of
// that kind on stderr:
//   format        the document is an sdg-receipt/1 (README "Proofs")
//   signature     the checkpoint is a signed note (c2sp.org/signed-note) with a valid Ed25519
//                 signature by the verifier key, over its text exactly
//   checkpoint    its text is a checkpoint (c2sp.org/tlog-checkpoint: origin, size, base64 root) of
//                 the receipt's organisation's log (origin ends with "/" + organizationId)
//   event hash    each event's hash, recomputed from its fields and its previousHash, is its `hash`
//                 (README "Audit trail": SHA-256 hex of (previousHash or "") + "\n" + canonical JSON
//                 of [id, at, actor, organizationId, action, resourceKind, resourceId, provider,
//                 outcome, requestId, traceId, upstreamHttpStatus, details])
//   organization  each event belongs to the receipt's organisation
//   proof         each event has one inclusion proof (RFC 9162 §2.1.3.2) at its logIndex in the tree of
//                 the checkpoint's size that ends at the checkpoint's root; the leaf is the 32 bytes
//                 of the event's hash, the leaf hash SHA-256(0x00 || leaf), a node SHA-256(0x01 || l || r)
//   confirmation  the events show the deletion done and confirmed by the provider: for a resource,
//                 DELETED and UPSTREAM_DELETED events of the resource (or of what it was deleted
//                 with); for an erasure, its ERASURE_REQUESTED event and an UPSTREAM_DELETED event
//                 for every item
// The signed checkpoint comes first because everything else is checked against it.
// Exit 0 all good (a summary on stdout), 1 a check failed, 2 usage or an unreadable file.
import { createHash, createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';

const USAGE = 'usage: node scripts/verify-receipt.mjs RECEIPT.json [--key VERIFIER_KEY]';
const FIELDS = ['id', 'at', 'actor', 'organizationId', 'action', 'resourceKind', 'resourceId', 'provider', 'outcome', 'requestId', 'traceId', 'upstreamHttpStatus', 'details'];
const HEX64 = /^[0-9a-f]{64}$/;

function usage(message) {
  if (message) console.error(message);
  console.error(USAGE);
  process.exit(2);
}

function failed(check, problems) {
  for (const problem of problems) console.error(`FAILED ${check}: ${problem}`);
  process.exit(1);
}

// ---- arguments -------------------------------------------------------------------------------

let file = null;
let keyArgument = null;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i];
  if (arg === '--key') {
    if (i + 1 >= args.length) usage('--key needs a verifier key');
    keyArgument = args[++i];
  } else if (arg.startsWith('--key=')) {
    keyArgument = arg.slice('--key='.length);
  } else if (arg.startsWith('-')) {
    usage(`unknown option ${arg}`);
  } else if (file === null) {
    file = arg;
  } else {
    usage('one receipt file at a time');
  }
}
if (file === null) usage();

let text;
try {
  text = readFileSync(file, 'utf8');
} catch (error) {
  console.error(`cannot read ${file}: ${error.message}`);
  process.exit(2);
}

// ---- encodings ---------------------------------------------------------------------------------

const sha256 = (data) => createHash('sha256').update(data).digest();
const isObject = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);
const isCount = (value) => Number.isSafeInteger(value) && value >= 0;
const isText = (value) => typeof value === 'string' && value !== '';

/** Standard base64 in its one canonical spelling (RFC 4648 §4), else null. */
function base64(textValue) {
  if (typeof textValue !== 'string' || textValue.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(textValue)) return null;
  const bytes = Buffer.from(textValue, 'base64');
  return bytes.toString('base64') === textValue ? bytes : null;
}

/** The canonical JSON of src/audit/chain.ts: keys sorted by UTF-16 code unit at every depth, no whitespace. */
function canonical(value) {
  if (value === null || value === undefined || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item === undefined ? null : item)).join(',')}]`;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
}

function eventHash(event) {
  const body = canonical(FIELDS.map((field) => event[field] ?? null));
  return createHash('sha256').update(`${event.previousHash ?? ''}\n${body}`, 'utf8').digest('hex');
}

// ---- RFC 9162 §2.1.3.2 -------------------------------------------------------------------------

const nodeHash = (left, right) => sha256(Buffer.concat([Buffer.from([0x01]), left, right]));
const leafHash = (leaf) => sha256(Buffer.concat([Buffer.from([0x00]), leaf]));

function verifyInclusion(leaf, index, size, proof, root) {
  if (!(index < size)) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

// ---- signed notes (c2sp.org/signed-note, Ed25519) ----------------------------------------------

const validKeyName = (name) => isText(name) && !/[\s+\u0000-\u001f\u007f]/u.test(name);
const keyIdOf = (name, publicKey) => sha256(Buffer.concat([Buffer.from(`${name}\n`, 'utf8'), Buffer.from([0x01]), publicKey])).subarray(0, 4).toString('hex');

/** name+keyid+base64(0x01 || 32-byte key), the key id checked against name and key; else a problem string. */
function parseVerifierKey(keyText) {
  if (typeof keyText !== 'string') return 'not a string';
  const parts = keyText.split('+');
  if (parts.length < 3) return 'not of the form name+keyid+base64key';
  const [name, id] = parts;
  const key = base64(parts.slice(2).join('+'));
  if (!validKeyName(name)) return `invalid key name ${JSON.stringify(name)}`;
  if (!/^[0-9a-f]{8}$/.test(id)) return 'the key id is not 8 lowercase hex digits';
  if (!key || key.length !== 33 || key[0] !== 0x01) return 'the key is not base64 of 0x01 and a 32-byte Ed25519 key';
  const publicKey = key.subarray(1);
  if (keyIdOf(name, publicKey) !== id) return 'the key id does not match the name and key';
  return { name, id, publicKey, text: keyText };
}

/** The verified note text, or a problem string. */
function verifyNote(note, key) {
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) return 'the note contains control characters other than newline';
  const split = note.lastIndexOf('\n\n');
  if (split < 0) return 'the note has no blank line before its signatures';
  const body = note.slice(0, split + 1);
  const block = note.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) return 'the note has no signature lines';
  const mine = [];
  const present = [];
  for (const line of block.slice(0, -1).split('\n')) {
    if (!line.startsWith('\u2014 ')) return `malformed signature line ${JSON.stringify(line.slice(0, 40))} (it must start with an em dash and a space)`;
    const rest = line.slice(2);
    const space = rest.indexOf(' ');
    const name = space < 0 ? '' : rest.slice(0, space);
    const bytes = space < 0 ? null : base64(rest.slice(space + 1));
    if (!validKeyName(name) || !bytes || bytes.length < 5) return `malformed signature line ${JSON.stringify(line.slice(0, 40))}`;
    const id = bytes.subarray(0, 4).toString('hex');
    present.push(`${name}+${id}`);
    // signed-note: lines of other keys (another name or key id) are ignored.
    if (name === key.name && id === key.id) mine.push(bytes.subarray(4));
  }
  if (mine.length === 0) return `no signature by key ${key.name}+${key.id} (the checkpoint is signed by ${present.join(', ')})`;
  const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: key.publicKey.toString('base64url') }, format: 'jwk' });
  for (const signature of mine) {
    if (signature.length !== 64 || !verify(null, Buffer.from(body, 'utf8'), publicKey, signature)) {
      return `the signature by key ${key.name}+${key.id} does not verify: the checkpoint text or its signature was changed, or the key is not the one that signed`;
    }
  }
  return { body };
}

// ---- the checks ---------------------------------------------------------------------------------

let receipt;
try {
  receipt = JSON.parse(text);
} catch (error) {
  failed('format', [`${file} is not JSON: ${error.message}`]);
}

const ref = (thing) => `${thing.kind} ${thing.id}`;

// format
{
  const problems = [];
  const r = receipt;
  if (!isObject(r)) failed('format', ['the receipt is not a JSON object']);
  if (r.format !== 'sdg-receipt/1') problems.push(`format is ${JSON.stringify(r.format)}, expected "sdg-receipt/1"`);
  if (!isText(r.organizationId)) problems.push('organizationId is missing');
  const isRef = (value) => isObject(value) && isText(value.kind) && isText(value.id);
  if ((r.resource === undefined) === (r.erasureRequest === undefined)) problems.push('the receipt must be about exactly one of resource or erasureRequest');
  if (r.resource !== undefined) {
    if (!isRef(r.resource)) problems.push('resource must have kind and id');
    else if (r.resource.deletedWith != null && !isRef(r.resource.deletedWith)) problems.push('resource.deletedWith must be null or have kind and id');
  }
  if (r.erasureRequest !== undefined) {
    const e = r.erasureRequest;
    if (!isObject(e) || !isText(e.id) || !isText(e.subjectId)) problems.push('erasureRequest must have id and subjectId');
    else {
      if (!Array.isArray(e.providers) || !e.providers.every(isText)) problems.push('erasureRequest.providers must be a list of providers');
      if (!Array.isArray(e.items)) problems.push('erasureRequest.items must be a list');
      else {
        e.items.forEach((item, i) => {
          if (!isRef(item) || !isText(item.provider)) problems.push(`erasureRequest.items[${i}] must have kind, id and provider`);
          else if (item.carrier != null && !isRef(item.carrier)) problems.push(`erasureRequest.items[${i}].carrier must have kind and id`);
        });
      }
    }
  }
  if (!Array.isArray(r.events) || r.events.length === 0) problems.push('events must be a non-empty list');
  else {
    const ids = new Set();
    const indexes = new Set();
    r.events.forEach((event, i) => {
      if (!isObject(event) || !isText(event.id)) return problems.push(`events[${i}] has no id`);
      if (typeof event.hash !== 'string' || !HEX64.test(event.hash)) problems.push(`event ${event.id}: hash must be 64 lowercase hex digits`);
      if (event.previousHash !== null && (typeof event.previousHash !== 'string' || !HEX64.test(event.previousHash))) problems.push(`event ${event.id}: previousHash must be null or 64 lowercase hex digits`);
      if (!isCount(event.logIndex)) problems.push(`event ${event.id}: logIndex must be a non-negative integer`);
      if (ids.has(event.id)) problems.push(`event ${event.id} appears twice`);
      if (indexes.has(event.logIndex)) problems.push(`two events claim log index ${event.logIndex}`);
      ids.add(event.id);
      indexes.add(event.logIndex);
    });
  }
  if (!Array.isArray(r.proofs)) problems.push('proofs must be a list');
  else {
    r.proofs.forEach((proof, i) => {
      if (!isObject(proof) || !isText(proof.eventId) || !isCount(proof.logIndex) || !isCount(proof.treeSize) || !Array.isArray(proof.hashes)) {
        problems.push(`proofs[${i}] must have eventId, logIndex, treeSize and hashes`);
      }
    });
  }
  if (typeof r.checkpoint !== 'string') problems.push('checkpoint must be the signed note text');
  if (typeof r.publicKey !== 'string') problems.push('publicKey must be the verifier key text');
  if (problems.length > 0) failed('format', problems);
}

// signature
let key;
if (keyArgument !== null) {
  key = parseVerifierKey(keyArgument);
  if (typeof key === 'string') usage(`--key is not a verifier key: ${key}`);
} else {
  console.error(
    "warning: no --key given, so the checkpoint is checked with the receipt's own publicKey: that shows the receipt is " +
      "consistent, not who signed it. Get the verifier key from the gateway's operator (gateway audit public-key) and pass it with --key.",
  );
  key = parseVerifierKey(receipt.publicKey);
  if (typeof key === 'string') failed('signature', [`the receipt's publicKey is not a verifier key: ${key}`]);
}
let note;
try {
  note = verifyNote(receipt.checkpoint, key);
} catch (error) {
  // node:crypto refusing the key bytes, say.
  note = `cannot check the signature: ${error.message}`;
}
if (typeof note === 'string') failed('signature', [note]);

// checkpoint
let checkpoint;
{
  const lines = note.body.slice(0, -1).split('\n');
  const problems = [];
  if (lines.length !== 3) problems.push(`the signed text has ${lines.length} lines, a checkpoint has 3 (origin, size, root hash)`);
  else {
    const [origin, sizeText, rootText] = lines;
    const root = base64(rootText);
    if (!/^(0|[1-9][0-9]*)$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) problems.push(`the checkpoint size ${JSON.stringify(sizeText)} is not a decimal tree size`);
    if (!root || root.length !== 32) problems.push('the checkpoint root is not base64 of 32 bytes');
    if (!origin.endsWith(`/${receipt.organizationId}`)) problems.push(`the checkpoint is of log ${JSON.stringify(origin)}, not of organisation ${receipt.organizationId}'s log (its origin must end with "/${receipt.organizationId}")`);
    checkpoint = { origin, size: Number(sizeText), root };
  }
  if (problems.length > 0) failed('checkpoint', problems);
}

// event hash
{
  const problems = [];
  for (const event of receipt.events) {
    const recomputed = eventHash(event);
    if (recomputed !== event.hash) problems.push(`event ${event.id} (log index ${event.logIndex}): its fields hash to ${recomputed}, not to its hash ${event.hash}: the event was changed`);
  }
  if (problems.length > 0) failed('event hash', problems);
}

// organization
{
  const problems = receipt.events
    .filter((event) => event.organizationId !== receipt.organizationId)
    .map((event) => `event ${event.id} belongs to ${JSON.stringify(event.organizationId)}, not to ${receipt.organizationId}`);
  if (problems.length > 0) failed('organization', problems);
}

// proof
{
  const problems = [];
  const eventIds = new Set(receipt.events.map((event) => event.id));
  for (const proof of receipt.proofs) if (!eventIds.has(proof.eventId)) problems.push(`a proof names event ${proof.eventId}, which is not in the receipt`);
  for (const event of receipt.events) {
    const proofs = receipt.proofs.filter((proof) => proof.eventId === event.id);
    if (proofs.length !== 1) {
      problems.push(`event ${event.id} has ${proofs.length} inclusion proofs, expected one`);
      continue;
    }
    const [proof] = proofs;
    if (proof.logIndex !== event.logIndex) problems.push(`event ${event.id}: its proof is for log index ${proof.logIndex}, the event says ${event.logIndex}`);
    else if (proof.treeSize !== checkpoint.size) problems.push(`event ${event.id}: its proof is for tree size ${proof.treeSize}, the checkpoint's is ${checkpoint.size}`);
    else {
      const hashes = proof.hashes.map(base64);
      if (hashes.some((hash) => !hash || hash.length !== 32)) problems.push(`event ${event.id}: a proof hash is not base64 of 32 bytes`);
      else if (!verifyInclusion(leafHash(Buffer.from(event.hash, 'hex')), event.logIndex, checkpoint.size, hashes, checkpoint.root)) {
        problems.push(`event ${event.id}: the inclusion proof does not lead from its hash at log index ${event.logIndex} to the checkpoint's root at size ${checkpoint.size}`);
      }
    }
  }
  if (problems.length > 0) failed('proof', problems);
}

// confirmation
const eventFor = (outcome, thing) => receipt.events.find((event) => event.outcome === outcome && event.resourceKind === thing.kind && event.resourceId === thing.id);
const summary = [];
{
  const problems = [];
  if (receipt.resource !== undefined) {
    const carrier = receipt.resource.deletedWith ?? receipt.resource;
    const via = receipt.resource.deletedWith ? ` (deleted with ${ref(carrier)})` : '';
    const deleted = eventFor('DELETED', carrier);
    const upstream = eventFor('UPSTREAM_DELETED', carrier);
    if (!deleted) problems.push(`no DELETED event for ${ref(carrier)}${via}: the receipt does not show the deletion`);
    if (!upstream) problems.push(`no UPSTREAM_DELETED event for ${ref(carrier)}${via}: the provider's deletion is not confirmed`);
    if (deleted && upstream) {
      summary.push(`${ref(receipt.resource)}${via}: deleted (event ${deleted.id}, log index ${deleted.logIndex}), confirmed by the provider (event ${upstream.id}, log index ${upstream.logIndex})`);
    }
  } else {
    const request = receipt.erasureRequest;
    // The request's event names it in resourceId or in details.erasureRequestId.
    const requested = receipt.events.find((event) => event.outcome === 'ERASURE_REQUESTED' && (event.resourceId === request.id || event.details?.erasureRequestId === request.id));
    if (!requested) problems.push(`no ERASURE_REQUESTED event for erasure request ${request.id}`);
    for (const item of request.items) {
      const carrier = item.carrier ?? item;
      if (!eventFor('UPSTREAM_DELETED', carrier)) {
        const via = item.carrier && ref(item.carrier) !== ref(item) ? ` (deleted with ${ref(item.carrier)})` : '';
        problems.push(`item ${ref(item)} at ${item.provider}${via} is not confirmed: no UPSTREAM_DELETED event for ${ref(carrier)}`);
      }
    }
    if (requested) {
      summary.push(
        `erasure request ${request.id} for subject ${request.subjectId} (event ${requested.id}): ${request.items.length} item(s) confirmed deleted by their providers` +
          (request.providers.length > 0 ? ` (${request.providers.join(', ')})` : ''),
      );
    }
  }
  if (problems.length > 0) failed('confirmation', problems);
}

console.log(`OK ${file}: receipt of organisation ${receipt.organizationId}`);
console.log(`  checkpoint ${checkpoint.origin} at size ${checkpoint.size}, signed by ${key.name}+${key.id}${keyArgument === null ? " (the receipt's own key: see the warning)" : ''}`);
console.log(`  ${receipt.events.length} event(s): every hash recomputed from its fields, every one proven in the log`);
for (const line of summary) console.log(`  ${line}`);
