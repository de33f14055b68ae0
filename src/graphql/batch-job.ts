// deleteBatchJob: Daily batch processor (seed 002). Daily deletes what it stored in its own bucket,
// not what lives in a customer's bucket: the payload lists those objects so the caller can.
import type { DeletionSuccess } from '../deletion/pipeline.ts';
import { isObject } from '../domain.ts';
import { DeletionInterface, deleteMutation } from './deletion.ts';
import { builder, type GraphQLContext } from './builder.ts';

export interface StoredObjectShape {
  bucket: string;
  key: string;
  region: string | null;
  format: string | null;
}

interface JobShape {
  id: string;
  preset: string | null;
  status: string;
  input: unknown;
  output: unknown;
  error: string | null;
}

type BatchJobDeletionShape = DeletionSuccess & { job: JobShape | null; outputObjects: StoredObjectShape[]; retainedObjects: StoredObjectShape[] };

const BatchJob = builder.objectRef<JobShape>('BatchJob').implement({
  description: "Daily's job status as it answered the DELETE.",
  fields: (t) => ({
    id: t.exposeID('id'),
    preset: t.exposeString('preset', { nullable: true }),
    status: t.exposeString('status', { description: 'submitted, processing, finished or error.' }),
    input: t.field({ type: 'JSON', nullable: true, resolve: (job) => job.input }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (job) => job.output }),
    error: t.exposeString('error', { nullable: true }),
  }),
});

export const StoredObject = builder.objectRef<StoredObjectShape>('StoredObject').implement({
  description: "An output object of a Daily batch job (an S3 object named in the job's `output`).",
  fields: (t) => ({
    bucket: t.exposeString('bucket'),
    key: t.exposeString('key'),
    region: t.exposeString('region', { nullable: true }),
    format: t.exposeString('format', { nullable: true }),
  }),
});

function text(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/** Daily's `output` (`transcription[]` and `summary`, each with `format` and `s3Config`) → objects. */
/** The part of a job's output objects in a custom bucket (DAILY_CUSTOM_BUCKETS), which Daily does not delete. */
export function retainedObjectsOf(output: unknown, ctx: Pick<GraphQLContext, 'config'>): StoredObjectShape[] {
  const custom = new Set(ctx.config.daily.customBuckets);
  return storedObjectsOf(output).filter((object) => custom.has(object.bucket));
}

export function storedObjectsOf(output: unknown): StoredObjectShape[] {
  if (!isObject(output)) return [];
  const entries = [...(Array.isArray(output.transcription) ? output.transcription : []), output.summary];
  const objects: StoredObjectShape[] = [];
  for (const entry of entries) {
    if (!isObject(entry) || !isObject(entry.s3Config)) continue;
    const bucket = text(entry.s3Config.bucket);
    const key = text(entry.s3Config.key);
    if (bucket && key) objects.push({ bucket, key, region: text(entry.s3Config.region), format: text(entry.format) });
  }
  return objects;
}

function jobOf(value: unknown): JobShape | null {
  if (!isObject(value) || typeof value.id !== 'string') return null;
  return {
    id: value.id,
    preset: text(value.preset),
    status: text(value.status) ?? 'unknown',
    input: value.input ?? null,
    output: value.output ?? null,
    error: text(value.error),
  };
}

const BatchJobDeletion = builder.objectRef<BatchJobDeletionShape>('BatchJobDeletion').implement({
  description: 'A deleted Daily batch job.',
  interfaces: [DeletionInterface],
  fields: (t) => ({
    batchJobId: t.id({ resolve: (d) => d.resource.id }),
    job: t.field({
      type: BatchJob,
      nullable: true,
      description:
        "The job status Daily answered the DELETE with (also when it reported an error: upstream FAILED, reason PROVIDER_REPORTED_ERROR); null while the provider deletion is still pending, or when Daily answered no job.",
      resolve: (d) => d.job,
    }),
    outputObjects: t.field({
      type: [StoredObject],
      description:
        "Every object the job's `output` names (the transcription list and the summary), in Daily's bucket or a custom one, retained or not: what existed. Taken from Daily's answer once it has answered; while the provider deletion is pending, from the catalog's `attributes.output` (same shape as Daily's `output`) when it was registered, else empty.",
      resolve: (d) => d.outputObjects,
    }),
    retainedObjects: t.field({
      type: [StoredObject],
      description:
        'The part of `outputObjects` in a custom bucket (DAILY_CUSTOM_BUCKETS), which Daily does not delete; delete them yourself.',
      resolve: (d) => d.retainedObjects,
    }),
  }),
});

deleteMutation<{ batchJobId: string }, BatchJobDeletionShape>({
  kind: 'BATCH_JOB',
  field: 'deleteBatchJob',
  idArg: 'batchJobId',
  result: 'DeleteBatchJobResult',
  description: 'Delete a Daily batch job and the objects Daily stored for it. Admins and members may.',
  args: { batchJobId: 'The Daily batch job id (a UUID).' },
  payload: BatchJobDeletion,
  shape: (success, ctx) => {
    // Daily's answer once it has given one: a confirmation, or a job body reporting an error (FAILED).
    const job = success.upstream.status === 'PENDING' ? null : jobOf(success.upstream.result?.job);
    const output = job ? job.output : success.resource.attributes?.output;
    const outputObjects = storedObjectsOf(output);
    return { ...success, job, outputObjects, retainedObjects: retainedObjectsOf(output, ctx) };
  },
});
