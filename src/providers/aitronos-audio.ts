// Aitronos audio transcriptions (seed 000): DELETE /v1/audio/transcribe/{id}, Bearer, envelope answers.
import { isObject } from '../domain.ts';
import { aitronosDiagnostics, bearer, isAitronosError, segment, unrecognized, type Adapter } from './adapter.ts';

export const aitronosAudio: Adapter = {
  provider: 'AITRONOS_AUDIO',
  authHeader: 'authorization',
  request: (target, credential) => ({
    path: `/v1/audio/transcribe/${segment(target.id)}`,
    headers: bearer(credential),
  }),
  accepted(response) {
    const body = response.json;
    if (!isObject(body) || body.success !== true || !isObject(body.data) || body.data.deleted !== true) {
      return unrecognized(response, 'the Aitronos success envelope');
    }
    const deletedUpstream = body.data.deleted_upstream === true;
    return {
      result: {
        deleted_upstream: deletedUpstream,
        deleted_at: typeof body.data.deleted_at === 'string' ? body.data.deleted_at : null,
        provider_request_id: isObject(body.metadata) ? (body.metadata.request_id ?? null) : null,
      },
      // Aitronos accepted and retries its own sub-processor deletion (PRODUCT.md, edge cases).
      reason: deletedUpstream ? null : 'PROVIDER_UPSTREAM_PENDING',
    };
  },
  isOwnNotFound: (response) => isAitronosError(response.json, 404),
  diagnostics: aitronosDiagnostics,
};
