// Daily batch processor (seed 002): DELETE /batch-processor/{id} answers the job status. Daily deletes
// the objects in its own bucket, not those in a custom bucket: the job body says where they are.
import { isObject } from '../domain.ts';
import { bearer, segment, unrecognized, type Adapter } from './adapter.ts';

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
    return { result: { job: body }, reason: null };
  },
  isOwnNotFound: (response) => isObject(response.json) && typeof response.json.error === 'string',
};
