// Proofs of the audit log as the API gives them (PRODUCT.md "Proof a deletion happened"): a signed
// checkpoint of the caller's organisation's log, inclusion and consistency proofs against it, and the
// receipt document of a deleted resource. Every role may ask; only about its own organisation's log.
import { checkpointAt, checkpointCovering, currentCheckpoint, logHead, type StoredCheckpoint } from '../audit/checkpoint.ts';
import { logIdOf } from '../audit/log.ts';
import { consistencyProofAt, inclusionProofAt } from '../audit/proofs.ts';
import { createReceipt } from '../audit/receipt.ts';
import { get } from '../db/sql.ts';
import { badUserInput } from '../errors.ts';
import { builder, principalOf, type GraphQLContext } from './builder.ts';
import { Resource, deletionEvidence } from './catalog.ts';

const AuditCheckpoint = builder.objectRef<StoredCheckpoint>('AuditCheckpoint').implement({
  description:
    "A signed checkpoint of your organisation's audit log: a C2SP tlog-checkpoint (origin, tree size, root hash) in a C2SP signed note, signed with the gateway's Ed25519 key. Check `signedNote` with the verifier key `gateway audit public-key` prints; every checkpoint ever signed is kept.",
  fields: (t) => ({
    origin: t.exposeString('origin', { description: "The log's name, the note's first line: `{AUDIT_LOG_ORIGIN}/{organizationId}`." }),
    treeSize: t.exposeInt('treeSize', { description: 'How many events of the log it covers (log indexes 0 … treeSize − 1).' }),
    rootHash: t.string({
      description: 'The RFC 9162 Merkle tree root of those events, base64 (32 bytes), as in the note.',
      resolve: (checkpoint) => checkpoint.rootHash.toString('base64'),
    }),
    signedNote: t.exposeString('signedNote', {
      description: 'The whole signed note: the three checkpoint lines, a blank line, and the signature line `— {keyName} {base64(keyId || signature)}`.',
    }),
    signedAt: t.field({ type: 'DateTime', description: 'When the gateway signed it.', resolve: (checkpoint) => checkpoint.signedAt }),
  }),
});

interface InclusionProofValue {
  eventId: string;
  logIndex: number;
  treeSize: number;
  hashes: Buffer[];
  checkpoint: StoredCheckpoint;
}

interface ConsistencyProofValue {
  fromSize: number;
  toSize: number;
  hashes: Buffer[];
  checkpoint: StoredCheckpoint;
}

const base64 = (hashes: readonly Buffer[]) => hashes.map((hash) => hash.toString('base64'));

const AuditInclusionProof = builder.objectRef<InclusionProofValue>('AuditInclusionProof').implement({
  description:
    "Proof that an event is in your organisation's log: with its hash as the leaf (SHA-256(0x00 || the 32 bytes of `hash`)), `hashes` lead from its log index to the checkpoint's root (RFC 9162 §2.1.3.2).",
  fields: (t) => ({
    eventId: t.exposeID('eventId'),
    logIndex: t.exposeInt('logIndex', { description: "The event's position in the log: the leaf index." }),
    treeSize: t.exposeInt('treeSize', { description: 'The size of the tree the proof is for: the checkpoint\'s.' }),
    hashes: t.stringList({ description: 'The proof, base64, in RFC 9162 order (the sibling nearest the leaf first).', resolve: (proof) => base64(proof.hashes) }),
    checkpoint: t.field({ type: AuditCheckpoint, description: 'The signed checkpoint of that tree size.', resolve: (proof) => proof.checkpoint }),
  }),
});

const AuditConsistencyProof = builder.objectRef<ConsistencyProofValue>('AuditConsistencyProof').implement({
  description:
    "Proof that your organisation's log of `toSize` events extends the log of `fromSize` events, nothing changed or removed (RFC 9162 §2.1.4.2): check it with the roots of a checkpoint you kept and of `checkpoint`.",
  fields: (t) => ({
    fromSize: t.exposeInt('fromSize'),
    toSize: t.exposeInt('toSize'),
    hashes: t.stringList({ description: 'The proof, base64, in RFC 9162 order (empty when fromSize is 0 or equals toSize).', resolve: (proof) => base64(proof.hashes) }),
    checkpoint: t.field({ type: AuditCheckpoint, description: 'The signed checkpoint of `toSize`.', resolve: (proof) => proof.checkpoint }),
  }),
});

function caller(ctx: GraphQLContext) {
  const principal = principalOf(ctx);
  return { logId: logIdOf(principal.organizationId), organizationId: principal.organizationId, now: ctx.runtime.clock.now() };
}

function requireCount(value: number, field: string): void {
  if (value < 0) throw badUserInput(`"${field}" must not be negative.`, field);
}

/** A size the caller named must be one its log has had: at most its size now. */
async function requireWithinLog(ctx: GraphQLContext, logId: string, size: number, field: string): Promise<void> {
  const { size: logSize } = await ctx.db.read(logHead(logId));
  if (size > logSize) throw badUserInput(`"${field}" ${size} is larger than your organisation's audit log, which holds ${logSize} events.`, field);
}

builder.queryField('auditCheckpoint', (t) =>
  t.field({
    type: AuditCheckpoint,
    description: "A signed checkpoint of your organisation's audit log as it is now: the latest one, or a fresh one when the log grew since.",
    resolve: (_root, _args, ctx) => {
      const { logId, now } = caller(ctx);
      return currentCheckpoint(ctx.db, ctx.signing, logId, now);
    },
  }),
);

builder.queryField('auditInclusionProof', (t) =>
  t.field({
    type: AuditInclusionProof,
    nullable: true,
    description:
      "Proof that one of your organisation's events is in its log, against a signed checkpoint. Null when the event is not one of your organisation's.",
    args: {
      eventId: t.arg.id({ required: true }),
      treeSize: t.arg.int({
        description: "The tree size to prove against: from the event's log index + 1 to the log's size. Default: the latest checkpoint, or a fresh one when it does not hold the event yet.",
      }),
    },
    resolve: async (_root, args, ctx) => {
      const { logId, organizationId, now } = caller(ctx);
      const treeSize = args.treeSize ?? null;
      if (treeSize !== null) requireCount(treeSize, 'treeSize');
      const event = await ctx.db.read(
        get<{ logIndex: number }>('SELECT log_index AS "logIndex" FROM audit_events WHERE id = ? AND organization_id = ? AND log_id = ?', [
          String(args.eventId),
          organizationId,
          logId,
        ]),
      );
      if (!event) return null;
      const logIndex = Number(event.logIndex);
      let checkpoint: StoredCheckpoint;
      if (treeSize === null) {
        checkpoint = await checkpointCovering(ctx.db, ctx.signing, logId, logIndex + 1, now);
      } else {
        if (treeSize <= logIndex) throw badUserInput(`"treeSize" must be at least ${logIndex + 1}: the event is at log index ${logIndex}.`, 'treeSize');
        await requireWithinLog(ctx, logId, treeSize, 'treeSize');
        checkpoint = await checkpointAt(ctx.db, ctx.signing, logId, treeSize, now);
      }
      const hashes = await ctx.db.read(inclusionProofAt(logId, logIndex, checkpoint.treeSize));
      return { eventId: String(args.eventId), logIndex, treeSize: checkpoint.treeSize, hashes, checkpoint };
    },
  }),
);

builder.queryField('auditConsistencyProof', (t) =>
  t.field({
    type: AuditConsistencyProof,
    description: "Proof that your organisation's log at `toSize` events extends it at `fromSize` (e.g. the size of a checkpoint you kept).",
    args: {
      fromSize: t.arg.int({ required: true, description: 'The older tree size, from 0.' }),
      toSize: t.arg.int({ description: "The newer tree size, up to the log's size. Default: a checkpoint of the log as it is now." }),
    },
    resolve: async (_root, args, ctx) => {
      const { logId, now } = caller(ctx);
      const toSize = args.toSize ?? null;
      requireCount(args.fromSize, 'fromSize');
      if (toSize !== null) requireCount(toSize, 'toSize');
      if (toSize !== null && args.fromSize > toSize) throw badUserInput(`"fromSize" (${args.fromSize}) must not be larger than "toSize" (${toSize}).`, 'fromSize');
      let checkpoint: StoredCheckpoint;
      if (toSize === null) {
        checkpoint = await currentCheckpoint(ctx.db, ctx.signing, logId, now);
        if (args.fromSize > checkpoint.treeSize) {
          throw badUserInput(`"fromSize" ${args.fromSize} is larger than your organisation's audit log, which holds ${checkpoint.treeSize} events.`, 'fromSize');
        }
      } else {
        await requireWithinLog(ctx, logId, toSize, 'toSize');
        checkpoint = await checkpointAt(ctx.db, ctx.signing, logId, toSize, now);
      }
      const hashes = await ctx.db.read(consistencyProofAt(logId, args.fromSize, checkpoint.treeSize));
      return { fromSize: args.fromSize, toSize: checkpoint.treeSize, hashes, checkpoint };
    },
  }),
);

builder.objectField(Resource, 'deletionProof', (t) =>
  t.field({
    type: 'JSON',
    nullable: true,
    description:
      'The receipt document (`sdg-receipt/1`) of its deletion: the events of `deletionReceipt` with their hashes and log indexes, an inclusion proof of each against one signed checkpoint, the checkpoint and the verifier key. Anyone can check it with `node scripts/verify-receipt.mjs` (see the README). Null when it is not deleted.',
    resolve: async (r, _args, ctx) => {
      const { organizationId, now } = caller(ctx);
      if (r.organizationId !== organizationId) return null;
      const { events, deletedWith } = await deletionEvidence(ctx.loaders, r);
      if ((r.deletedAt === null && deletedWith === null) || events.length === 0) return null;
      return createReceipt(ctx.db, ctx.signing, { organizationId, about: { resource: { kind: r.kind, id: r.id, deletedWith } }, events, now });
    },
  }),
);
