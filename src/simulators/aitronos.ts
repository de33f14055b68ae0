// Aitronos simulator: one server for both APIs, since they share AITRONOS_BASE_URL.
//   audio (seed 000): DELETE /v1/audio/transcribe/{transcription_id}, Authorization: Bearer KEY
//   music (seed 003): DELETE /v1/music/{organization_id}/tracks/{track_id}, X-API-Key: KEY only
import type { IncomingHttpHeaders } from 'node:http';
import {
  ControlError,
  Simulator,
  bearerToken,
  headerValue,
  isRecord,
  isWellFormedId,
  isoNow,
  type RouteContext,
  type SimResponse,
  type SimulatorOptions,
} from './simulator.ts';

export interface AitronosSimulatorOptions extends SimulatorOptions {
  apiKey: string;
}

interface ErrorSpec {
  code: string;
  message: string;
  system_message: string;
  type: string;
  details: Record<string, unknown>;
}

const AUTH_ERROR: ErrorSpec = {
  code: 'AUTHENTICATION_REQUIRED',
  message: 'Authentication required. Please provide a valid API key.',
  system_message: 'Missing or invalid authorization header',
  type: 'authentication_error',
  details: {},
};

// Codes for status-only faults, so an injected outage still looks like Aitronos' envelope.
const FAULT_CODES: Record<number, string> = {
  408: 'REQUEST_TIMEOUT',
  429: 'RATE_LIMIT_EXCEEDED',
  500: 'INTERNAL_SERVER_ERROR',
  502: 'BAD_GATEWAY',
  503: 'SERVICE_UNAVAILABLE',
  504: 'GATEWAY_TIMEOUT',
};

export class AitronosSimulator extends Simulator {
  private deletedUpstream = true;
  private readonly creatorMismatch = new Set<string>();
  /** Track → the Aitronos organisation it lives in; tracks not listed are found under any organisation. */
  private readonly trackOrganizations = new Map<string, string>();

  constructor(private readonly options: AitronosSimulatorOptions) {
    super('aitronos', options);
    this.route('DELETE', '/v1/audio/transcribe/:transcriptionId', (ctx) => this.deleteTranscription(ctx));
    this.route('DELETE', '/v1/music/:organizationId/tracks/:trackId', (ctx) => this.deleteTrack(ctx));

    this.controlRoute('POST', '/deleted-upstream', (body) => {
      const value = isRecord(body) ? body['deletedUpstream'] : undefined;
      if (typeof value !== 'boolean') throw new ControlError('body must be {"deletedUpstream": true|false}');
      this.setDeletedUpstream(value);
      return { status: 204 };
    });
    this.controlRoute('POST', '/track-creator-mismatch', (body) => {
      const trackId = isRecord(body) ? body['trackId'] : undefined;
      if (typeof trackId !== 'string' || !isWellFormedId(trackId)) throw new ControlError('body must be {"trackId": "mtrack_…"}');
      this.setTrackCreatorMismatch(trackId);
      return { status: 204 };
    });
    this.controlRoute('POST', '/track-organization', (body) => {
      const trackId = isRecord(body) ? body['trackId'] : undefined;
      const organizationId = isRecord(body) ? body['organizationId'] : undefined;
      if (typeof trackId !== 'string' || !isWellFormedId(trackId) || typeof organizationId !== 'string' || !isWellFormedId(organizationId)) {
        throw new ControlError('body must be {"trackId": "mtrack_…", "organizationId": "org_…"}');
      }
      this.setTrackOrganization(trackId, organizationId);
      return { status: 204 };
    });
  }

  /**
   * The organisation a track belongs to at Aitronos: a DELETE naming another one in its URL gets the
   * seed's 404 (seed 003: "404 if the track does not exist or the caller has no access to it").
   */
  setTrackOrganization(trackId: string, organizationId: string): void {
    this.trackOrganizations.set(trackId, organizationId);
  }

  /** What `data.deleted_upstream` says on successful audio deletes (Aitronos' sub-processor copy). */
  setDeletedUpstream(value: boolean): void {
    this.deletedUpstream = value;
  }

  /** The caller is not this track's creator: its deletes get 403. */
  setTrackCreatorMismatch(trackId: string): void {
    this.creatorMismatch.add(trackId);
  }

  override reset(): void {
    super.reset();
    this.deletedUpstream = true;
    this.creatorMismatch.clear();
    this.trackOrganizations.clear();
  }

  protected override faultResponse(status: number, ctx: RouteContext): SimResponse {
    return envelope(status, ctx.requestId, {
      code: FAULT_CODES[status] ?? 'ERROR',
      message: 'Something went wrong. Please try again later.',
      system_message: `Injected fault ${status}`,
      type: status >= 500 ? 'server_error' : 'client_error',
      details: {},
    });
  }

  private deleteTranscription(ctx: RouteContext): SimResponse {
    if (bearerToken(ctx.headers) !== this.options.apiKey) return envelope(401, ctx.requestId, AUTH_ERROR);
    const id = ctx.params['transcriptionId'] ?? '';
    if (!isWellFormedId(id) || this.stateOf(ctx.path) !== 'exists') {
      return envelope(404, ctx.requestId, {
        code: 'NOT_FOUND',
        message: "We couldn't find the resource you're looking for.",
        system_message: 'Transcription not found',
        type: 'client_error',
        details: { transcription_id: id },
      });
    }
    this.markDeleted(ctx.path);
    const now = isoNow();
    return {
      status: 200,
      body: {
        success: true,
        data: { deleted: true, transcription_id: id, deleted_at: now, deleted_upstream: this.deletedUpstream },
        metadata: { request_id: ctx.requestId, timestamp: now, processing_time_ms: Date.now() - ctx.receivedAt },
      },
    };
  }

  private deleteTrack(ctx: RouteContext): SimResponse {
    // Music authenticates with X-API-Key only; a Bearer token alone is not a key here.
    if (!hasApiKey(ctx.headers, this.options.apiKey)) return envelope(401, ctx.requestId, AUTH_ERROR);
    const orgId = ctx.params['organizationId'] ?? '';
    const trackId = ctx.params['trackId'] ?? '';
    // 404 covers "does not exist" and "no access" alike (seed 003), so it comes before 403.
    const home = this.trackOrganizations.get(trackId);
    if (!isWellFormedId(orgId) || !isWellFormedId(trackId) || (home !== undefined && home !== orgId) || this.stateOf(ctx.path) !== 'exists') {
      return envelope(404, ctx.requestId, {
        code: 'RESOURCE_NOT_FOUND',
        message: 'The requested resource could not be found.',
        system_message: 'Music track not found',
        type: 'client_error',
        details: { track_id: trackId },
      });
    }
    if (this.creatorMismatch.has(trackId)) {
      return envelope(403, ctx.requestId, {
        code: 'INSUFFICIENT_PERMISSIONS',
        message: 'You do not have permission to access this resource.',
        system_message: 'Only the track creator may delete it',
        type: 'authorization_error',
        details: { track_id: trackId },
      });
    }
    this.markDeleted(ctx.path);
    return { status: 200, body: { success: true, id: trackId, detail: 'Track deleted.' } };
  }
}

function hasApiKey(headers: IncomingHttpHeaders, key: string): boolean {
  return headerValue(headers, 'x-api-key') === key;
}

/** Aitronos' error envelope (seeds 000 and 003). */
function envelope(status: number, traceId: string, spec: ErrorSpec): SimResponse {
  return {
    status,
    body: {
      success: false,
      error: {
        code: spec.code,
        message: spec.message,
        system_message: spec.system_message,
        type: spec.type,
        status,
        details: spec.details,
        trace_id: traceId,
        timestamp: isoNow(),
      },
    },
  };
}
