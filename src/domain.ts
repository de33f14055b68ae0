// The vocabulary of PRODUCT.md as types and tables. Everything else imports its names from here.

export const PROVIDERS = ['AITRONOS_AUDIO', 'AITRONOS_MUSIC', 'SCRIPTIX', 'DAILY', 'REV_AI'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const RESOURCE_KINDS = ['TRANSCRIPTION', 'SESSION', 'DOCUMENT', 'COMMENT', 'TRACK', 'BATCH_JOB'] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const ROLES = ['admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const UPSTREAM_STATUSES = ['DELETED', 'PENDING', 'FAILED'] as const;
export type UpstreamStatus = (typeof UPSTREAM_STATUSES)[number];

export const AUDIT_OUTCOMES = [
  'DELETED',
  'ALREADY_DELETED',
  'NOT_FOUND',
  'PERMISSION_DENIED',
  'VALIDATION_FAILED',
  'UPSTREAM_DELETED',
  'UPSTREAM_RETRY_SCHEDULED',
  'UPSTREAM_FAILED',
  'UPSTREAM_REQUEUED',
  /** `_system`: the first-wave single chain was split into per-organisation logs (its old head kept in details). */
  'AUDIT_LOGS_SPLIT',
  /** A data-subject erasure request was accepted (its deletions are in the same transaction). */
  'ERASURE_REQUESTED',
  /** Nothing of an erasure request is pending any more (once per time it gets there). */
  'ERASURE_COMPLETED',
] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** Which providers may hold a kind; the first is the default when a kind has only one. */
export const KIND_PROVIDERS: Record<ResourceKind, readonly Provider[]> = {
  TRANSCRIPTION: ['AITRONOS_AUDIO', 'REV_AI'],
  SESSION: ['SCRIPTIX'],
  DOCUMENT: ['SCRIPTIX'],
  COMMENT: ['SCRIPTIX'],
  TRACK: ['AITRONOS_MUSIC'],
  BATCH_JOB: ['DAILY'],
};

/** The parents a kind names in the catalog (Scriptix nests documents in sessions, comments in documents). */
export const KIND_PARENTS: Record<ResourceKind, readonly ('sessionId' | 'documentId')[]> = {
  TRANSCRIPTION: [],
  SESSION: [],
  DOCUMENT: ['sessionId'],
  COMMENT: ['sessionId', 'documentId'],
  TRACK: [],
  BATCH_JOB: [],
};

/** Id prefix rules of the providers' own documents (seeds 000 and 003). */
export const PROVIDER_ID_PREFIX: Partial<Record<Provider, string>> = {
  AITRONOS_AUDIO: 'trans_',
  AITRONOS_MUSIC: 'mtrack_',
};

/** The audit `action` of a delete request, per kind. */
export const KIND_ACTION: Record<ResourceKind, string> = {
  TRANSCRIPTION: 'transcription.delete',
  SESSION: 'session.delete',
  DOCUMENT: 'document.delete',
  COMMENT: 'comment.delete',
  TRACK: 'track.delete',
  BATCH_JOB: 'batch_job.delete',
};

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** A JSON object (not null, not an array): what provider bodies and catalog attributes are read as. */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A resource of the catalog as the code sees it (the db row, decoded). */
export interface CatalogResource {
  kind: ResourceKind;
  id: string;
  provider: Provider;
  organizationId: string;
  ownerId: string;
  sessionId: string | null;
  documentId: string | null;
  status: string | null;
  attributes: Record<string, unknown> | null;
  createdAt: string;
  updatedAt: string;
  deletedAt: string | null;
  deletedBy: string | null;
}

/** Who calls: resolved from an API key. */
export interface Principal {
  keyId: string;
  organizationId: string;
  userId: string;
  role: Role;
}

/** The audit `actor` of a principal: who (user) and with which key, never the key itself. */
export function actorOf(principal: Principal): string {
  return `user:${principal.userId} key:${principal.keyId}`;
}

export const WORKER_ACTOR = 'system:worker';
export const GATEWAY_ACTOR = 'system:gateway';
