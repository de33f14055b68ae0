// Gathers every domain file of the GraphQL surface and builds the schema once.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { builder } from './builder.ts';
import './errors.ts';
import './catalog.ts';
import './transcription.ts';
import './scriptix.ts';
import './track.ts';
import './batch-job.ts';
// After every single delete mutation: deleteResources answers with their payloads.
import './bulk.ts';
import './operator.ts';
import './proofs.ts';
import './live.ts';
import './erasure.ts';

export const schema = builder.toSchema();

export function printedSchema(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
