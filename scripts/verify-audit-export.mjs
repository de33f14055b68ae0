#!/usr/bin/env node
// Recomputes the audit logs of a `gateway audit export` (NDJSON on stdin) without the gateway:
// no project imports, only node:crypto and node:readline, so an auditor can read all of it.
//
//   gateway audit export | node scripts/verify-audit-export.mjs              every organisation's log
//   gateway audit export --org org_a | node scripts/verify-audit-export.mjs  one organisation's, whole
//   gateway audit export --since 2026-03-01T00:00:00Z | node scripts/verify-audit-export.mjs --partial
//
// Each organisation's events form a log of their own (events without an organisation: `_system`),
// numbered by logIndex from 0, each event's previousHash the hash of the log's event before it.
// The hash (src/audit/chain.ts, README "Audit trail"): SHA-256 hex of
//   (previousHash or "") + "\n" + canonical JSON of [id, at, actor, organizationId, action,
//   resourceKind, resourceId, provider, outcome, requestId, traceId, upstreamHttpStatus, details]
// where canonical JSON is JSON.stringify's strings and numbers, no whitespace, object keys sorted by
// UTF-16 code unit at every depth, and a missing field is null.
//
// A whole export (all logs, or one with --org) must start every log at index 0 and link every event
// to the one before it in its log. A --since export leaves each log's beginning out: with --partial
// each log may start anywhere, and must still be contiguous from there.
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

const logs = new Map();
let count = 0;
let lineNo = 0;
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
  if (hashOf(event) !== event.hash) broken(lineNo, event.id, "hash does not match the event's content and its own previousHash (the event was changed)");
  if (!Number.isSafeInteger(event.logIndex) || event.logIndex < 0) broken(lineNo, event.id, 'logIndex is not a position in a log');
  const logId = event.organizationId ?? '_system';
  const ownPrevious = event.previousHash ?? null;
  const log = logs.get(logId);
  if (!log) {
    const startsLog = event.logIndex === 0 && ownPrevious === null;
    if (!startsLog && !partial) {
      broken(lineNo, event.id, `the first event of log ${logId} in this export is not the log's first (logIndex ${event.logIndex}): events before it are missing; for a --since export, pass --partial`);
    }
    logs.set(logId, { previous: event.hash, next: event.logIndex + 1, count: 1, startsLog });
  } else {
    if (event.logIndex !== log.next) {
      broken(lineNo, event.id, `log ${logId} goes from index ${log.next - 1} to ${event.logIndex}: ${event.logIndex > log.next ? 'events between are missing' : 'an event was inserted or moved here'}`);
    }
    if (ownPrevious !== log.previous) {
      broken(lineNo, event.id, `previousHash does not match the hash of the event before it in log ${logId} (an event was removed, inserted or moved here)`);
    }
    log.previous = event.hash;
    log.next += 1;
    log.count += 1;
  }
  count += 1;
}

console.log(`intact ${count} events in ${logs.size} log(s)`);
for (const [logId, log] of [...logs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
  const from = log.next - log.count;
  console.log(`  ${logId}: ${log.count} events, index ${from} to ${log.next - 1}${log.startsLog ? ', from the start of the log' : ' (the events before are not in this export)'}`);
}
if (!partial) console.log('whole logs: every log starts at its first event and every event links to the one before it in its log');
