// The receipt document `sdg-receipt/1` (README "Proofs"): events that prove something happened, each
// with all its hashed fields, its hash and log index, an inclusion proof of each against one signed
// checkpoint of the organisation's log, and the verifier key. scripts/verify-receipt.mjs checks it
// with node:crypto alone. What a receipt is about is the caller's: one resource
// (Resource.deletionProof) or an erasure request (ErasureRequest.receipt).
import type { Database } from '../db/database.ts';
import { checkpointCovering, type StoredCheckpoint } from './checkpoint.ts';
import type { AuditEventRow } from './event.ts';
import { logIdOf } from './log.ts';
import { inclusionProofsAt } from './proofs.ts';
import type { AuditSigning } from './signing-key.ts';

export const RECEIPT_FORMAT = 'sdg-receipt/1';

export interface ResourceRef {
  kind: string;
  id: string;
}

/** What a receipt proves: one resource (and what it was deleted with), or an erasure request. */
export type ReceiptSubject =
  | { resource: ResourceRef & { deletedWith: ResourceRef | null } }
  | { erasureRequest: { id: string; subjectId: string; providers: string[]; items: (ResourceRef & { provider: string; carrier: ResourceRef })[] } };

/** An event as a receipt carries it: every hashed field, then previousHash, hash and logIndex. */
export type ReceiptEvent = Omit<AuditEventRow, 'seq' | 'logId'>;

export interface ReceiptProof {
  eventId: string;
  logIndex: number;
  treeSize: number;
  /** Base64, RFC 9162 order (the sibling nearest the leaf first). */
  hashes: string[];
}

export type Receipt = { format: typeof RECEIPT_FORMAT; organizationId: string } & ReceiptSubject & {
    events: ReceiptEvent[];
    proofs: ReceiptProof[];
    /** The signed note of the checkpoint every proof leads to. */
    checkpoint: string;
    /** The verifier key of the key that signed it (an auditor should get it from the operator too). */
    publicKey: string;
  };

function receiptEvent(event: AuditEventRow): ReceiptEvent {
  return {
    id: event.id,
    at: event.at,
    actor: event.actor,
    organizationId: event.organizationId,
    action: event.action,
    resourceKind: event.resourceKind,
    resourceId: event.resourceId,
    provider: event.provider,
    outcome: event.outcome,
    requestId: event.requestId,
    traceId: event.traceId,
    upstreamHttpStatus: event.upstreamHttpStatus === null ? null : Number(event.upstreamHttpStatus),
    details: event.details,
    previousHash: event.previousHash,
    hash: event.hash,
    logIndex: Number(event.logIndex),
  };
}

/** The events a receipt carries: each once, in log order. */
export function receiptEvents(events: readonly AuditEventRow[]): AuditEventRow[] {
  const byId = new Map(events.map((event) => [event.id, event]));
  return [...byId.values()].sort((a, b) => Number(a.logIndex) - Number(b.logIndex));
}

/**
 * The receipt document, from its parts: pure. `proofs` holds each event's inclusion proof (by log
 * index) in the tree of the checkpoint's size.
 */
export function assembleReceipt(input: {
  organizationId: string;
  about: ReceiptSubject;
  events: readonly AuditEventRow[];
  checkpoint: Pick<StoredCheckpoint, 'treeSize' | 'signedNote'>;
  proofs: ReadonlyMap<number, readonly Buffer[]>;
  publicKey: string;
}): Receipt {
  const events = receiptEvents(input.events);
  return {
    format: RECEIPT_FORMAT,
    organizationId: input.organizationId,
    ...input.about,
    events: events.map(receiptEvent),
    proofs: events.map((event) => {
      const hashes = input.proofs.get(Number(event.logIndex));
      if (!hashes) throw new Error(`no inclusion proof for event ${event.id} (log index ${event.logIndex})`);
      return { eventId: event.id, logIndex: Number(event.logIndex), treeSize: input.checkpoint.treeSize, hashes: hashes.map((hash) => hash.toString('base64')) };
    }),
    checkpoint: input.checkpoint.signedNote,
    publicKey: input.publicKey,
  };
}

/**
 * A receipt of the organisation's `events` about `about`: one checkpoint that holds them all (the
 * latest, or a fresh one), and their inclusion proofs from one query.
 */
export async function createReceipt(
  db: Database,
  signing: AuditSigning,
  input: { organizationId: string; about: ReceiptSubject; events: readonly AuditEventRow[]; now: Date },
): Promise<Receipt> {
  const logId = logIdOf(input.organizationId);
  const foreign = input.events.find((event) => event.logId !== logId);
  if (foreign) throw new Error(`event ${foreign.id} is not in log ${logId}`);
  const events = receiptEvents(input.events);
  const indexes = events.map((event) => Number(event.logIndex));
  const checkpoint = await checkpointCovering(db, signing, logId, Math.max(0, ...indexes.map((index) => index + 1)), input.now);
  const proofs = await db.read(inclusionProofsAt(logId, indexes, checkpoint.treeSize));
  return assembleReceipt({ organizationId: input.organizationId, about: input.about, events, checkpoint, proofs, publicKey: signing.key.verifierKey });
}
