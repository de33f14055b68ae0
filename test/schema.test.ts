import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLNamedType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { printedSchema, schema } from '../src/graphql/schema.ts';
import { REPO_ROOT } from './support/cli.ts';

// The GraphQL block of PRODUCT.md, copied by hand: what frontends and their tests rely on. The
// gateway may add to it; it must not rename or retype any of it.
const FIELDS: Record<string, string> = {
  Error: 'code: String!  message: String!  systemMessage: String  type: String!  status: Int!  details: JSON  traceId: String!  timestamp: DateTime!',
  NotFoundError: 'code: String!  message: String!  systemMessage: String  type: String!  status: Int!  details: JSON  traceId: String!  timestamp: DateTime!',
  PermissionDeniedError: 'code: String!  message: String!  systemMessage: String  type: String!  status: Int!  details: JSON  traceId: String!  timestamp: DateTime!',
  ValidationError: 'code: String!  message: String!  systemMessage: String  type: String!  status: Int!  details: JSON  traceId: String!  timestamp: DateTime!  field: String',
  ResponseMetadata: 'requestId: String!  timestamp: DateTime!  processingTimeMs: Int!',
  UpstreamDeletion:
    'kind: ResourceKind!  resourceId: ID!  provider: Provider!  status: UpstreamStatus!  attempts: Int!  lastHttpStatus: Int  lastError: String  reason: String  nextAttemptAt: DateTime  completedAt: DateTime',
  Viewer: 'principalId: ID!  organizationId: ID!  userId: ID!  role: Role!',
  Resource:
    'kind: ResourceKind!  id: ID!  provider: Provider!  organizationId: ID!  ownerId: ID!  deletedAt: DateTime  upstream: UpstreamDeletion  deletionReceipt: [AuditEvent!]!  deletionProof: JSON',
  AuditEvent:
    'id: ID!  at: DateTime!  actor: String!  organizationId: ID  action: String!  resourceKind: ResourceKind  resourceId: ID  provider: Provider  outcome: AuditOutcome!  requestId: String  upstreamHttpStatus: Int  details: JSON  previousHash: String  hash: String!  logIndex: Int!',
  // Second wave, "Proof a deletion happened".
  AuditCheckpoint: 'origin treeSize rootHash signedNote signedAt',
  AuditInclusionProof: 'eventId logIndex treeSize hashes: [String!]!  checkpoint: AuditCheckpoint!',
  AuditConsistencyProof: 'fromSize toSize hashes: [String!]!',
  BatchJob: 'id: ID!  preset: String  status: String!  input: JSON  output: JSON  error: String',
  StoredObject: 'bucket: String!  key: String!  region: String  format: String',
  Deletion:
    'deleted: Boolean!  deletedAt: DateTime!  deletedUpstream: Boolean!  alreadyDeleted: Boolean!  upstream: UpstreamDeletion!  auditEvent: AuditEvent!  metadata: ResponseMetadata!',
  TranscriptionDeletion: 'transcriptionId: ID!  provider: Provider!',
  SessionDeletion: 'sessionId: ID!  documentsDeleted: Int!  commentsDeleted: Int!',
  DocumentDeletion: 'sessionId: ID!  documentId: ID!  commentsDeleted: Int!',
  CommentDeletion: 'sessionId: ID!  documentId: ID!  commentId: ID!',
  TrackDeletion: 'organizationId: ID!  trackId: ID!  detail: String!',
  BatchJobDeletion: 'batchJobId: ID!  job: BatchJob  retainedObjects: [StoredObject!]!',
  RegisterResourcesPayload: 'registered: Int!',
  AuditTrailVerification: 'valid eventsChecked firstInvalidEventId',
  ResourceInput: 'kind: ResourceKind!  id: ID!  provider: Provider  organizationId: ID!  ownerId: ID!  sessionId: ID  documentId: ID  status: String  attributes: JSON',
  Mutation: `
    deleteTranscription(transcriptionId: ID!): DeleteTranscriptionResult!
    deleteSession(sessionId: ID!): DeleteSessionResult!
    deleteDocument(sessionId: ID!, documentId: ID!): DeleteDocumentResult!
    deleteComment(sessionId: ID!, documentId: ID!, commentId: ID!): DeleteCommentResult!
    deleteTrack(organizationId: ID!, trackId: ID!): DeleteTrackResult!
    deleteBatchJob(batchJobId: ID!): DeleteBatchJobResult!
    registerResources(resources: [ResourceInput!]!): RegisterResourcesResult!
    retryUpstreamDeletion(kind: ResourceKind!, id: ID!): RetryUpstreamDeletionResult!`,
  Query: `
    viewer: Viewer!
    resource(kind: ResourceKind!, id: ID!): Resource
    auditEvents(first: Int, after: String, resourceId: ID, outcome: AuditOutcome): AuditEventConnection!
    upstreamDeletions(status: UpstreamStatus, provider: Provider, first: Int, after: String): UpstreamDeletionConnection!
    auditTrailVerification: AuditTrailVerification!
    auditCheckpoint: AuditCheckpoint!
    auditInclusionProof(eventId: ID!, treeSize: Int): AuditInclusionProof
    auditConsistencyProof(fromSize: Int!, toSize: Int): AuditConsistencyProof!`,
};

const IMPLEMENTS: Record<string, string> = {
  NotFoundError: 'Error',
  PermissionDeniedError: 'Error',
  ValidationError: 'Error',
  TranscriptionDeletion: 'Deletion',
  SessionDeletion: 'Deletion',
  DocumentDeletion: 'Deletion',
  CommentDeletion: 'Deletion',
  TrackDeletion: 'Deletion',
  BatchJobDeletion: 'Deletion',
};

const ERRORS = ['NotFoundError', 'PermissionDeniedError', 'ValidationError'];
const UNIONS: Record<string, string[]> = {
  DeleteTranscriptionResult: ['TranscriptionDeletion', ...ERRORS],
  DeleteSessionResult: ['SessionDeletion', ...ERRORS],
  DeleteDocumentResult: ['DocumentDeletion', ...ERRORS],
  DeleteCommentResult: ['CommentDeletion', ...ERRORS],
  DeleteTrackResult: ['TrackDeletion', ...ERRORS],
  DeleteBatchJobResult: ['BatchJobDeletion', ...ERRORS],
  RegisterResourcesResult: ['RegisterResourcesPayload', 'ValidationError', 'PermissionDeniedError'],
  RetryUpstreamDeletionResult: ['UpstreamDeletion', ...ERRORS],
};

const ENUMS: Record<string, string> = {
  Provider: 'AITRONOS_AUDIO AITRONOS_MUSIC SCRIPTIX DAILY REV_AI',
  ResourceKind: 'TRANSCRIPTION SESSION DOCUMENT COMMENT TRACK BATCH_JOB',
  UpstreamStatus: 'DELETED PENDING FAILED',
  Role: 'ADMIN MEMBER VIEWER',
  AuditOutcome:
    'DELETED ALREADY_DELETED NOT_FOUND PERMISSION_DENIED VALIDATION_FAILED UPSTREAM_DELETED UPSTREAM_RETRY_SCHEDULED UPSTREAM_FAILED UPSTREAM_REQUEUED',
};

const SCALARS = ['DateTime', 'JSON'];

interface ContractField {
  name: string;
  args: Record<string, string>;
  /** Undefined where PRODUCT.md names the field without a type. */
  type: string | undefined;
}

/** `name(arg: T, …): T` or `name: T` or a bare `name`, separated by blanks. */
function parseFields(spec: string): ContractField[] {
  const fields: ContractField[] = [];
  for (const match of spec.matchAll(/(\w+)(?:\(([^)]*)\))?(?:\s*:\s*([\w[\]!]+))?/g)) {
    const args: Record<string, string> = {};
    for (const arg of (match[2] ?? '').split(',').filter((a) => a.trim() !== '')) {
      const [name, type] = arg.split(':').map((part) => part.trim());
      args[name!] = type!;
    }
    fields.push({ name: match[1]!, args, type: match[3] });
  }
  return fields;
}

function named(name: string): GraphQLNamedType {
  const type = schema.getType(name);
  if (!type) throw new Error(`PRODUCT.md names the type ${name}; the schema has none`);
  return type;
}

describe('schema/schema.graphql', () => {
  it('is the SDL the code builds', () => {
    const committed = readFileSync(join(REPO_ROOT, 'schema/schema.graphql'), 'utf8');
    expect(committed === printedSchema(), 'schema/schema.graphql is stale: run `npm run schema:print` and commit it').toBe(true);
  });
});

describe('every name of the GraphQL block of PRODUCT.md', () => {
  it.each(Object.keys(FIELDS))('%s has its fields, arguments and types', (typeName) => {
    const type = named(typeName);
    expect(isObjectType(type) || isInterfaceType(type) || isInputObjectType(type), `${typeName} is a ${type.constructor.name}`).toBe(true);
    if (!isObjectType(type) && !isInterfaceType(type) && !isInputObjectType(type)) return;
    const actual = type.getFields();
    const problems: string[] = [];
    for (const field of parseFields(FIELDS[typeName]!)) {
      const found = actual[field.name];
      if (!found) {
        problems.push(`${typeName}.${field.name} is missing`);
        continue;
      }
      if (field.type !== undefined && String(found.type) !== field.type) {
        problems.push(`${typeName}.${field.name} is ${String(found.type)}, not ${field.type}`);
      }
      const args: readonly GraphQLArgument[] = 'args' in found ? found.args : [];
      for (const [argName, argType] of Object.entries(field.args)) {
        const arg = args.find((a) => a.name === argName);
        if (!arg) problems.push(`${typeName}.${field.name}(${argName}) is missing`);
        else if (String(arg.type) !== argType) problems.push(`${typeName}.${field.name}(${argName}) is ${String(arg.type)}, not ${argType}`);
      }
      // A new required argument would break every caller of the contract.
      for (const arg of args) {
        if (!(arg.name in field.args) && String(arg.type).endsWith('!') && arg.defaultValue === undefined) {
          problems.push(`${typeName}.${field.name}(${arg.name}) is required but not in the contract`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it.each(Object.entries(IMPLEMENTS))('%s implements %s', (typeName, interfaceName) => {
    const type = named(typeName);
    expect(isObjectType(type) && type.getInterfaces().map((i) => i.name)).toContain(interfaceName);
  });

  it.each(Object.entries(UNIONS))('%s is a union of %j', (unionName, members) => {
    const type = named(unionName);
    expect(isUnionType(type), `${unionName} is not a union`).toBe(true);
    if (isUnionType(type)) expect(type.getTypes().map((t) => t.name)).toEqual(expect.arrayContaining(members));
  });

  it.each(Object.entries(ENUMS))('enum %s has %s', (enumName, values) => {
    const type = named(enumName);
    expect(isEnumType(type), `${enumName} is not an enum`).toBe(true);
    if (isEnumType(type)) expect(type.getValues().map((v) => v.name)).toEqual(expect.arrayContaining(values.split(' ')));
  });

  it.each(SCALARS)('scalar %s exists', (scalarName) => {
    expect(isScalarType(named(scalarName))).toBe(true);
  });
});
