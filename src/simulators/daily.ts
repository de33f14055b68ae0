// Daily batch-processor simulator (seed 002): DELETE {base}/batch-processor/{id},
// Authorization: Bearer KEY. Daily's base URL has a path (https://api.daily.co/v1), so this
// server's base URL is http://host:port/v1 and routes live under /v1.
import { createHash } from 'node:crypto';
import {
  Simulator,
  bearerToken,
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

export class DailySimulator extends Simulator {
  readonly customBucket: string;

  constructor(private readonly options: DailySimulatorOptions) {
    super('daily', options, '/v1');
    this.customBucket = options.customBucket ?? 'acme-recordings';
    this.route('DELETE', '/batch-processor/:id', (ctx) => this.deleteJob(ctx));
  }

  private deleteJob(ctx: RouteContext): SimResponse {
    if (bearerToken(ctx.headers) !== this.options.apiKey) {
      return { status: 401, body: { error: 'authentication-error', info: 'Invalid API key' } };
    }
    const id = ctx.params['id'] ?? '';
    if (!isWellFormedId(id) || this.stateOf(ctx.path) !== 'exists') {
      return { status: 404, body: { error: 'not-found', info: `batch job ${id} not found` } };
    }
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
