// The Pothos builder, configured once: context type, scalars, non-null by default.
import SchemaBuilder from '@pothos/core';
import { Kind } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import type { AuditSigning } from '../audit/signing-key.ts';
import type { DeletionContext } from '../deletion/pipeline.ts';
import type { Principal } from '../domain.ts';
import { authenticationRequired } from '../errors.ts';
import type { ChangeFeed } from '../live/feed.ts';

export interface GraphQLContext extends Omit<DeletionContext, 'principal'> {
  /** Null only for introspection (allowed without a key); every other operation is refused first. */
  principal: Principal | null;
  /** performance.now() when the request arrived, for `metadata.processingTimeMs`. */
  startedAt: number;
  /** Signs checkpoints of the audit logs (auditCheckpoint, proofs, receipts). */
  signing: AuditSigning;
  /** The process's change feed, which subscriptions follow. */
  feed: ChangeFeed;
  /** Aborted when the client goes away (ends its subscription stream). */
  signal: AbortSignal;
}

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: string | Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  defaultFieldNullability: false,
});

builder.scalarType('DateTime', {
  description: 'An ISO-8601 instant in UTC with milliseconds, e.g. 2026-03-02T14:00:00.000Z.',
  serialize: (value) => (value instanceof Date ? value.toISOString() : new Date(value).toISOString()),
  parseValue: (value) => {
    const date = typeof value === 'string' ? new Date(value) : new Date(NaN);
    if (Number.isNaN(date.getTime())) throw createGraphQLError('DateTime must be an ISO-8601 string');
    return date;
  },
});

function literalToJson(node: import('graphql').ValueNode): unknown {
  switch (node.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return node.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(node.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return node.values.map(literalToJson);
    case Kind.OBJECT:
      return Object.fromEntries(node.fields.map((field) => [field.name.value, literalToJson(field.value)]));
    default:
      throw createGraphQLError('JSON literals cannot use variables inside');
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: (node) => literalToJson(node),
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

/** The caller; every operation but introspection has one (the auth plugin refuses the rest). */
export function principalOf(ctx: GraphQLContext): Principal {
  if (!ctx.principal) throw authenticationRequired('no API key');
  return ctx.principal;
}

export function deletionContext(ctx: GraphQLContext): DeletionContext {
  return { ...ctx, principal: principalOf(ctx) };
}
