// Rev AI simulator (seed 004): DELETE /speechtotext/v1/jobs/{id}, Authorization: Bearer TOKEN.
// 204 once the job is completed (transcribed or failed); 409 problem+json while in progress.
// Seed 004 says nothing of an x-request-id response header: answers carry one only when switched on
// (POST /__sim/request-id-header), to show what the gateway does with it.
import { STATUS_CODES } from 'node:http';
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

export type RevAiJobState = 'in_progress' | 'transcribed' | 'failed';
const JOB_STATES: readonly RevAiJobState[] = ['in_progress', 'transcribed', 'failed'];

export interface RevAiSimulatorOptions extends SimulatorOptions {
  accessToken: string;
}

const PROBLEM_JSON = 'application/problem+json';
const ERRORS = 'https://www.rev.ai/api/v1/errors';

export class RevAiSimulator extends Simulator {
  /** Jobs not listed here are `transcribed` (completed), so any id can be deleted once. */
  private readonly jobStates = new Map<string, RevAiJobState>();

  constructor(private readonly options: RevAiSimulatorOptions) {
    super('revai', options);
    this.route('DELETE', '/speechtotext/v1/jobs/:id', (ctx) => this.deleteJob(ctx));
    this.controlRoute('POST', '/jobs/:id', (body, params) => {
      const state = isRecord(body) ? body['state'] : undefined;
      const id = params['id'] ?? '';
      if (!isWellFormedId(id)) throw new ControlError('job id must match [A-Za-z0-9_-]{1,128}');
      if (!isJobState(state)) throw new ControlError(`body must be {"state": ${JOB_STATES.map((s) => `"${s}"`).join('|')}}`);
      this.setJobState(id, state);
      return { status: 204 };
    });
  }

  setJobState(id: string, state: RevAiJobState): void {
    this.jobStates.set(id, state);
  }

  jobState(id: string): RevAiJobState {
    return this.jobStates.get(id) ?? 'transcribed';
  }

  override reset(): void {
    super.reset();
    this.jobStates.clear();
  }

  protected override faultResponse(status: number): SimResponse {
    return { status, contentType: PROBLEM_JSON, body: { title: STATUS_CODES[status] ?? 'Error', status } };
  }

  private deleteJob(ctx: RouteContext): SimResponse {
    if (bearerToken(ctx.headers) !== this.options.accessToken) {
      return problem({ title: 'Authorization has been denied for this request', status: 401 });
    }
    const id = ctx.params['id'] ?? '';
    if (!isWellFormedId(id) || this.stateOf(ctx.path) !== 'exists') {
      return problem({ type: `${ERRORS}/job-not-found`, title: 'could not find job', status: 404 });
    }
    const state = this.jobState(id);
    if (state === 'in_progress') {
      return problem({
        allowed_values: ['transcribed', 'failed'],
        current_value: state,
        type: `${ERRORS}/invalid-job-state`,
        title: 'Job is in invalid state',
        detail: 'Job is in invalid state to be deleted',
        status: 409,
      });
    }
    this.markDeleted(ctx.path);
    return { status: 204 };
  }
}

function problem(body: { status: number } & Record<string, unknown>): SimResponse {
  return { status: body.status, contentType: PROBLEM_JSON, body };
}

function isJobState(v: unknown): v is RevAiJobState {
  return typeof v === 'string' && (JOB_STATES as readonly string[]).includes(v);
}
