// Daily batch processor (seed 002): DELETE /batch-processor/{id} answers the job status. Daily deletes
// the objects in its own bucket, not those in a custom bucket: the job body says where they are.
import { isObject } from '../domain.ts';
import { REQUEST_ID_HEADER, bearer, requestIdHeader, segment, unrecognized, type Adapter } from './adapter.ts';

export const daily: Adapter = {
  provider: 'DAILY',
  authHeader: 'authorization',
  request: (target, credential) => ({
    path: `/batch-processor/${segment(target.id)}`,
    headers: bearer(credential),
  }),
  accepted(response) {
    const body = response.json;
    if (!isObject(body) || typeof body.id !== 'string') return unrecognized(response, 'a Daily job status');
    // Seed 002: the answer is the job status, whose `error` ("Details of error", e.g. "Failed to delete
    // transcriptions") or `status: "error"` says Daily did not do it. A 200 is no proof of deletion then.
    const text = typeof body.error === 'string' ? body.error.trim() : '';
    if (text !== '' || body.status === 'error') {
      return {
        status: 'FAILED',
        httpStatus: response.status,
        reason: 'PROVIDER_REPORTED_ERROR',
        error: `HTTP ${response.status}: ${text !== '' ? text.slice(0, 200) : 'Daily answered the job with status "error"'}`,
        result: { job: body },
      };
    }
    return { result: { job: body }, reason: null };
  },
  isOwnNotFound: (response) => isObject(response.json) && typeof response.json.error === 'string',
  responseHeaders: [REQUEST_ID_HEADER],
  // Daily's error answers name the error in `error` ("not-found", "authentication-error"), its text in
  // `info`; a job body's `error` is text ("Details of error"), the job's, not a code.
  diagnostics: (response) => ({
    requestId: requestIdHeader(response),
    errorCode:
      (response.status < 200 || response.status >= 300) && isObject(response.json) && typeof response.json.error === 'string' ? response.json.error : null,
  }),
};
