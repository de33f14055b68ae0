// Aitronos music tracks (seed 003): DELETE /v1/music/{organization_id}/tracks/{track_id}.
// Unlike the audio API it authenticates with X-API-Key, never Authorization.
import { isObject } from '../domain.ts';
import { aitronosDiagnostics, isAitronosError, segment, unrecognized, type Adapter, type UpstreamTarget } from './adapter.ts';

/**
 * The `{organization_id}` of the track URL: the Aitronos organisation the track was registered with
 * (catalog attribute `aitronosOrganizationId`), else the gateway organisation that holds it. Once
 * registered with one, only that one: a value that is not an id fails the URL fence (INVALID_ID)
 * rather than falling back to another organisation, whose 404 would read as "already absent".
 */
export function aitronosOrganizationOf(target: UpstreamTarget): string {
  const registered = target.attributes?.aitronosOrganizationId;
  if (registered === undefined) return target.organizationId;
  return typeof registered === 'string' ? registered : '';
}

export const aitronosMusic: Adapter = {
  provider: 'AITRONOS_MUSIC',
  authHeader: 'x-api-key',
  request: (target, credential) => ({
    path: `/v1/music/${segment(aitronosOrganizationOf(target))}/tracks/${segment(target.id)}`,
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
