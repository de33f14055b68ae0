// Daily batch-processor simulator (seed 002): DELETE {base}/batch-processor/{id},
// Authorization: Bearer KEY. Daily's base URL has a path (https://api.daily.co/v1), so this
// server's base URL is http://host:port/v1 and routes live under /v1.
// Seed 002 says nothing of an x-request-id response header: answers carry one only when switched on
// (POST /__sim/request-id-header), to show what the gateway does with it.
import { createHash } from 'node:crypto';
import {
  ControlError,
  Simulator,
  bearerToken,
  isRecord,
  isWellFormedId,
  type RouteContext,
  type SimResponse,
  type SimulatorOptions,
} from './simulator.ts';

export interface DailySimulatorOptions extends SimulatorOptions {
  apiKey: string;
  /** The customer's own bucket, which Daily does not empty on delete. Default `acme-recordings`. */
  customBucket?: string;
}

const DAILY_BUCKET = 'daily-prod-batch';
const JOB_STATUSES = ['submitted', 'processing', 'finished', 'error'] as const;

/**
 * What a job's status says when Daily reports an error (seed 002: `status` "error", `error` "Details
 * of error", e.g. "Failed to delete transcriptions").
 */
export interface JobError {
  error: string | null;
  status: (typeof JOB_STATUSES)[number];
}

/** The job-error key that applies to every job not switched on its own. */
const EVERY_JOB = '*';

export class DailySimulator extends Simulator {
  readonly customBucket: string;
  private readonly jobErrors = new Map<string, JobError>();

  constructor(private readonly options: DailySimulatorOptions) {
    super('daily', options, '/v1');
    this.customBucket = options.customBucket ?? 'acme-recordings';
    this.route('DELETE', '/batch-processor/:id', (ctx) => this.deleteJob(ctx));
    this.controlRoute('POST', '/job-error', (body) => {
      const usage = 'body must be {"jobId"?: "…", "error"?: "text" | null, "status"?: "submitted"|"processing"|"finished"|"error"}';
      if (!isRecord(body)) throw new ControlError(usage);
      const { jobId, error, status } = body;
      if (jobId !== undefined && (typeof jobId !== 'string' || !isWellFormedId(jobId))) throw new ControlError(usage);
      if (error !== undefined && error !== null && typeof error !== 'string') throw new ControlError(usage);
      if (status !== undefined && !(JOB_STATUSES as readonly unknown[]).includes(status)) throw new ControlError(usage);
      this.setJobError(jobId ?? null, {
        error: (error as string | null | undefined) ?? null,
        status: (status as JobError['status'] | undefined) ?? 'error',
      });
      return { status: 204 };
    });
    this.controlRoute('DELETE', '/job-error', () => {
      this.jobErrors.clear();
      return { status: 204 };
    });
  }

  /**
   * Deletes of this job (or, with null, of every job) answer 200 with the job status reporting an
   * error, and leave the job in place: Daily did not delete it.
   */
  setJobError(jobId: string | null, answer: JobError): void {
    this.jobErrors.set(jobId ?? EVERY_JOB, answer);
  }

  override reset(): void {
    super.reset();
    this.jobErrors.clear();
  }

  private deleteJob(ctx: RouteContext): SimResponse {
    if (bearerToken(ctx.headers) !== this.options.apiKey) {
      return { status: 401, body: { error: 'authentication-error', info: 'Invalid API key' } };
    }
    const id = ctx.params['id'] ?? '';
    if (!isWellFormedId(id) || this.stateOf(ctx.path) !== 'exists') {
      return { status: 404, body: { error: 'not-found', info: `batch job ${id} not found` } };
    }
    const reported = this.jobErrors.get(id) ?? this.jobErrors.get(EVERY_JOB);
    if (reported !== undefined) return { status: 200, body: { ...this.jobStatus(id), ...reported } };
    this.markDeleted(ctx.path);
    return { status: 200, body: this.jobStatus(id) };
  }

  /** The "Get job status" body: one output in Daily's bucket, two in the custom bucket. */
  private jobStatus(id: string): Record<string, unknown> {
    const custom = (path: string, format: string): Record<string, unknown> => ({
      format,
      s3Config: { key: `${this.customBucket}/${id}/${path}`, bucket: this.customBucket, region: 'eu-central-1' },
    });
    return {
      id,
      preset: 'transcript',
      status: 'finished',
      input: { sourceType: 'recordingId', recordingId: uuidFrom(id) },
      output: {
        transcription: [
          {
            format: 'json',
            s3Config: { key: `${DAILY_BUCKET}/${id}/transcript/output.json`, bucket: DAILY_BUCKET, region: 'us-west-2' },
          },
          custom('transcript/output.txt', 'txt'),
        ],
        summary: custom('summary/output.txt', 'txt'),
      },
      error: null,
    };
  }
}

/** A stable UUID-shaped recording id, so answers are deterministic. */
function uuidFrom(id: string): string {
  const h = createHash('sha256').update(`recording:${id}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
