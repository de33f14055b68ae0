// Rev AI jobs (seed 004): DELETE /speechtotext/v1/jobs/{id} → 204, only once the job is completed.
import { isObject } from '../domain.ts';
import { REQUEST_ID_HEADER, bearer, requestIdHeader, segment, unrecognized, type Adapter, type ProviderResponse } from './adapter.ts';

function problemType(response: ProviderResponse): string {
  return isObject(response.json) && typeof response.json.type === 'string' ? response.json.type : '';
}

export const revAi: Adapter = {
  provider: 'REV_AI',
  authHeader: 'authorization',
  request: (target, credential) => ({
    path: `/speechtotext/v1/jobs/${segment(target.id)}`,
    headers: bearer(credential),
  }),
  // Rev AI answers 204 with no body; a page answering 200 (a proxy, a wrong base URL) proves nothing.
  accepted: (response) =>
    response.status === 204 || response.text.trim() === '' || response.json !== undefined
      ? { result: null, reason: null }
      : unrecognized(response, 'a Rev AI answer (204 with no body)'),
  isOwnNotFound: (response) => problemType(response).endsWith('job-not-found'),
  responseHeaders: [REQUEST_ID_HEADER],
  // A problem's `type` is a URI (…/api/v1/errors/job-not-found): its last path segment is the code.
  diagnostics: (response) => ({
    requestId: requestIdHeader(response),
    errorCode: problemType(response).split(/[?#]/)[0]!.split('/').filter(Boolean).at(-1) ?? null,
  }),
  special(_target, response) {
    // A job still transcribing cannot be deleted yet; the worker keeps trying until it completes.
    if (
      response.status === 409 &&
      problemType(response).endsWith('invalid-job-state') &&
      isObject(response.json) &&
      response.json.current_value === 'in_progress'
    ) {
      return {
        status: 'PENDING',
        httpStatus: 409,
        reason: 'JOB_IN_PROGRESS',
        error: 'Rev AI job is still in progress; it can be deleted once completed',
        retryAfterMs: null,
      };
    }
    return null;
  },
};
