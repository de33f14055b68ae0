// Scriptix simulator (seed 001), Authorization: Bearer KEY:
//   DELETE /api/v3/speech-to-text/session/{sessionId}                     (takes its documents along)
//   DELETE …/session/{sessionId}/document/{documentId}
//   DELETE …/session/{sessionId}/document/{documentId}/comments/{commentId}
// Seed 001 says nothing of an x-request-id response header: answers carry one only when switched on
// (POST /__sim/request-id-header), to show what the gateway does with it.
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

export interface ScriptixSimulatorOptions extends SimulatorOptions {
  apiKey: string;
}

const SESSION = '/api/v3/speech-to-text/session/:sessionId';
const DOCUMENT = `${SESSION}/document/:documentId`;
const COMMENT = `${DOCUMENT}/comments/:commentId`;

const error = (status: number, message: string): SimResponse => ({ status, body: { error: message } });

export class ScriptixSimulator extends Simulator {
  private successStatus: 200 | 204 = 204;

  constructor(private readonly options: ScriptixSimulatorOptions) {
    super('scriptix', options);
    this.route('DELETE', SESSION, (ctx) => this.deleteSession(ctx));
    this.route('DELETE', DOCUMENT, (ctx) => this.deleteChild(ctx, 'Document not found'));
    this.route('DELETE', COMMENT, (ctx) => this.deleteChild(ctx, 'Comment not found'));
    this.controlRoute('POST', '/success-status', (body) => {
      const status = isRecord(body) ? body['status'] : undefined;
      if (status !== 200 && status !== 204) throw new ControlError('body must be {"status": 200|204}');
      this.setSuccessStatus(status);
      return { status: 204 };
    });
  }

  /** The seed allows either: 204 empty (default) or 200 with a small JSON body. */
  setSuccessStatus(status: 200 | 204): void {
    this.successStatus = status;
  }

  override reset(): void {
    super.reset();
    this.successStatus = 204;
  }

  private deleteSession(ctx: RouteContext): SimResponse {
    if (!this.authorized(ctx)) return error(401, 'Unauthorized');
    const state = isWellFormedId(ctx.params['sessionId'] ?? '') ? this.stateOf(ctx.path) : 'missing';
    // Scriptix soft-deletes sessions: a second delete is a 400, not a 404.
    if (state === 'deleted') return error(400, 'Session already marked as removed');
    if (state === 'missing') return error(404, 'Session not found');
    this.markDeleted(ctx.path);
    return this.success();
  }

  /** Documents and comments: gone if they, or any ancestor, were deleted or never existed. */
  private deleteChild(ctx: RouteContext, notFound: string): SimResponse {
    if (!this.authorized(ctx)) return error(401, 'Unauthorized');
    if (!Object.values(ctx.params).every(isWellFormedId) || !this.existsWithAncestors(ctx.path)) {
      return error(404, notFound);
    }
    this.markDeleted(ctx.path);
    return this.success();
  }

  /**
   * A child's key sits under its parents' keys (…/session/S/document/D/comments/C), so checking
   * each ancestor prefix implements the cascade without scanning state.
   */
  private existsWithAncestors(path: string): boolean {
    const segments = path.split('/');
    const sessionDepth = SESSION.split('/').length; // segments up to and including the session id
    for (let depth = sessionDepth; depth <= segments.length; depth += 2) {
      if (this.stateOf(segments.slice(0, depth).join('/')) !== 'exists') return false;
    }
    return true;
  }

  private authorized(ctx: RouteContext): boolean {
    return bearerToken(ctx.headers) === this.options.apiKey;
  }

  private success(): SimResponse {
    return this.successStatus === 200 ? { status: 200, body: { result: 'ok' } } : { status: 204 };
  }
}
