// Who may delete what (PRODUCT.md "Permissions"), as data: one rule per kind, read in one place.
// Organisation scoping happens before this (another organisation's resource is "not found").
import type { CatalogResource, Principal, ResourceKind } from '../domain.ts';

export type DeleteRule =
  /** admin or member */
  | 'ADMIN_OR_MEMBER'
  /** the resource's owner, or an admin */
  | 'OWNER_OR_ADMIN'
  /** the comment's owner, its document's or session's owner, or an admin */
  | 'OWNER_OR_PARENT_OWNER_OR_ADMIN'
  /** the creator only, not even an admin (seed 003) */
  | 'CREATOR_ONLY';

export const DELETE_POLICY: Record<ResourceKind, DeleteRule> = {
  TRANSCRIPTION: 'ADMIN_OR_MEMBER',
  BATCH_JOB: 'ADMIN_OR_MEMBER',
  SESSION: 'OWNER_OR_ADMIN',
  DOCUMENT: 'OWNER_OR_ADMIN',
  COMMENT: 'OWNER_OR_PARENT_OWNER_OR_ADMIN',
  TRACK: 'CREATOR_ONLY',
};

export interface Ancestors {
  session: CatalogResource | null;
  document: CatalogResource | null;
}

export function mayDelete(principal: Principal, resource: CatalogResource, ancestors: Ancestors): boolean {
  if (principal.role === 'viewer') return false;
  const isOwner = resource.ownerId === principal.userId;
  switch (DELETE_POLICY[resource.kind]) {
    case 'ADMIN_OR_MEMBER':
      return true;
    case 'OWNER_OR_ADMIN':
      return isOwner || principal.role === 'admin';
    case 'OWNER_OR_PARENT_OWNER_OR_ADMIN':
      return (
        isOwner ||
        principal.role === 'admin' ||
        ancestors.document?.ownerId === principal.userId ||
        ancestors.session?.ownerId === principal.userId
      );
    case 'CREATOR_ONLY':
      return isOwner;
  }
}
