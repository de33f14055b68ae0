#!/usr/bin/env node
// Recomputes the audit hash chain of a `gateway audit export` (NDJSON on stdin) without the gateway:
// no project imports, only node:crypto and node:readline, so an auditor can read all of it.
//
//   gateway audit export | node scripts/verify-audit-export.mjs
//   gateway audit export --org org_a | node scripts/verify-audit-export.mjs --partial
//
// The chain (src/audit/chain.ts, README "Audit trail"): hash = SHA-256 hex of
//   (previousHash or "") + "\n" + canonical JSON of [id, at, actor, organizationId, action,
//   resourceKind, resourceId, provider, outcome, requestId, traceId, upstreamHttpStatus, details]
// where canonical JSON is JSON.stringify's strings and numbers, no whitespace, object keys sorted by
// UTF-16 code unit at every depth, and a missing field is null.
//
// A whole export (no --org, no --since) must start the trail and link every event to the one before
// it. An --org or --since export leaves events out, so with --partial each event is checked against
// its own previousHash and the places where consecutive exported events do not link are counted,
// not failed: that proves every exported event is as it was written, not that none is missing.
// Exit 0 intact, 1 broken (the first bad event is named), 2 usage.
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';

const FIELDS = ['id', 'at', 'actor', 'organizationId', 'action', 'resourceKind', 'resourceId', 'provider', 'outcome', 'requestId', 'traceId', 'upstreamHttpStatus', 'details'];

function canonical(value) {
  if (value === null || value === undefined || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map((item) => canonical(item === undefined ? null : item)).join(',')}]`;
  const keys = Object.keys(value).filter((key) => value[key] !== undefined).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(value[key])}`).join(',')}}`;
}

function hashOf(event) {
  const body = canonical(FIELDS.map((field) => event[field] ?? null));
  return createHash('sha256').update(`${event.previousHash ?? ''}\n${body}`, 'utf8').digest('hex');
}

const args = process.argv.slice(2);
const partial = args.includes('--partial');
if (args.some((arg) => arg !== '--partial')) {
  console.error('usage: node scripts/verify-audit-export.mjs [--partial] < export.ndjson');
  process.exit(2);
}

function broken(line, id, problem) {
  console.log(`BROKEN at event ${id ?? '?'} (line ${line}): ${problem}`);
  process.exit(1);
}

let count = 0;
let lineNo = 0;
let previous;
let gaps = 0;
let firstGap = null;
let startsTrail = false;
for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  lineNo += 1;
  if (line.trim() === '') continue;
  let event;
  try {
    event = JSON.parse(line);
  } catch {
    broken(lineNo, null, 'the line is not JSON');
  }
  if (typeof event !== 'object' || event === null || Array.isArray(event)) broken(lineNo, null, 'the line is not an event object');
  const ownPrevious = event.previousHash ?? null;
  if (hashOf(event) !== event.hash) broken(lineNo, event.id, "hash does not match the event's content and its own previousHash (the event was changed)");
  if (count === 0) {
    startsTrail = ownPrevious === null;
    if (!startsTrail && !partial) {
      broken(lineNo, event.id, 'the first event does not start the trail (its previousHash is not null): events before it are missing; for an --org or --since export, pass --partial');
    }
  } else if (ownPrevious !== previous) {
    if (!partial) {
      broken(lineNo, event.id, 'previousHash does not match the hash of the event before it in this export (an event was removed, inserted or moved here); for an --org or --since export, pass --partial');
    }
    gaps += 1;
    firstGap ??= event.id;
  }
  previous = event.hash;
  count += 1;
}

console.log(`intact ${count} events`);
if (!partial) {
  console.log('a whole chain: the first event starts the trail and every event links to the one before it');
} else {
  const start = startsTrail ? 'the first event starts the trail' : 'the first event does not start the trail (events before it are not in this export)';
  console.log(
    gaps === 0
      ? `contiguous: ${start}; every other event links to the one before it in this export`
      : `not contiguous: ${start}; ${gaps} event(s) do not link to the one before it in this export (the first: ${firstGap}), ` +
          'the events between are not in this export (other organisations, or before --since): each exported event is proven as written, not that none is missing',
  );
}
