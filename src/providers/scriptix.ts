// Scriptix speech-to-text v3 (seed 001): sessions, their documents and documents' comments.
// 200 and 204 both mean deleted; deleting a session removes its documents at Scriptix too.
import { isObject } from '../domain.ts';
import { REQUEST_ID_HEADER, bearer, requestIdHeader, segment, unrecognized, type Adapter, type UpstreamTarget } from './adapter.ts';

function path(target: UpstreamTarget): string {
  const session = `/api/v3/speech-to-text/session`;
  switch (target.kind) {
    case 'SESSION':
      return `${session}/${segment(target.id)}`;
    case 'DOCUMENT':
      return `${session}/${segment(target.sessionId ?? '')}/document/${segment(target.id)}`;
    case 'COMMENT':
      return `${session}/${segment(target.sessionId ?? '')}/document/${segment(target.documentId ?? '')}/comments/${segment(target.id)}`;
    default:
      throw new Error(`Scriptix holds no ${target.kind}`);
  }
}

export const scriptix: Adapter = {
  provider: 'SCRIPTIX',
  authHeader: 'authorization',
  request: (target, credential) => ({ path: path(target), headers: bearer(credential) }),
  // The seed allows 204 (empty) or 200; a 200 whose body is an HTML or text page comes from a proxy
  // or a wrong base URL, and must not read as a completed deletion.
  accepted: (response) =>
    response.status === 204 || response.text.trim() === '' || response.json !== undefined
      ? { result: null, reason: null }
      : unrecognized(response, 'a Scriptix answer (204, or 200 with JSON or no body)'),
  isOwnNotFound: (response) => isObject(response.json),
  responseHeaders: [REQUEST_ID_HEADER],
  diagnostics: (response) => ({ requestId: requestIdHeader(response) }),
  special(target, response) {
    // Scriptix answers 400 "already marked as removed" for a session deleted before: already absent.
    if (target.kind === 'SESSION' && response.status === 400 && /already marked as removed/i.test(response.text)) {
      return { status: 'DELETED', httpStatus: 400, reason: 'ALREADY_ABSENT', result: null };
    }
    return null;
  },
};
