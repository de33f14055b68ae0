// Aitronos music tracks (seed 003): DELETE /v1/music/{organization_id}/tracks/{track_id}.
// Unlike the audio API it authenticates with X-API-Key, never Authorization.
import { isObject } from '../domain.ts';
import { aitronosDiagnostics, isAitronosError, segment, unrecognized, type Adapter } from './adapter.ts';

export const aitronosMusic: Adapter = {
  provider: 'AITRONOS_MUSIC',
  authHeader: 'x-api-key',
  request: (target, credential) => ({
    path: `/v1/music/${segment(target.organizationId)}/tracks/${segment(target.id)}`,
    headers: { 'x-api-key': credential },
  }),
  accepted(response) {
    const body = response.json;
    if (!isObject(body) || body.success !== true) return unrecognized(response, 'the Aitronos acknowledgement');
    return { result: { detail: typeof body.detail === 'string' ? body.detail : 'Track deleted.' }, reason: null };
  },
  isOwnNotFound: (response) => isAitronosError(response.json, 404),
  diagnostics: aitronosDiagnostics,
};
