// Raw bytes over a TCP socket, for requests no HTTP client would send (hostile request lines, bad
// framing): what came back, parsed just enough to judge it.
import { connect } from 'node:net';

export interface RawAnswer {
  /** The status code of the first response, or 0 when none came before the socket closed or the timeout. */
  status: number;
  /** Lower-cased header names of the first response. */
  headers: Record<string, string>;
  body: string;
  /** Everything received, as latin1. */
  raw: string;
}

function parse(raw: string): (RawAnswer & { complete: boolean }) | null {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return null;
  const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (!status) return { status: 0, headers: {}, body: '', raw, complete: true };
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = raw.slice(end + 4);
  const length = headers['content-length'];
  if (length !== undefined) {
    const bytes = Number(length);
    return { status: Number(status[1]), headers, body: rest.slice(0, bytes), raw, complete: Buffer.byteLength(rest, 'latin1') >= bytes };
  }
  const chunked = /chunked/i.test(headers['transfer-encoding'] ?? '');
  return { status: Number(status[1]), headers, body: rest, raw, complete: chunked ? /(^|\r\n)0\r\n\r\n$/.test(rest) : false };
}

/** Sends `bytes` on a fresh connection and resolves with the first response (or none: status 0). */
export function rawRequest(port: number, bytes: Buffer | string, timeoutMs = 5_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    let settled = false;
    const settle = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const parsed = parse(raw);
      resolve(parsed ? { status: parsed.status, headers: parsed.headers, body: parsed.body, raw } : { status: 0, headers: {}, body: '', raw });
    };
    const timer = setTimeout(settle, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      if (parse(raw)?.complete) settle();
    });
    socket.on('close', settle);
    // The server may close on a request it refuses while the rest is still being written (EPIPE, ECONNRESET).
    socket.on('error', () => {});
    socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  });
}

/** Signs of a leaked stack trace or internal error text in an answer. */
export const STACK_TRACE = /\n\s+at |TypeError|ReferenceError|Invalid URL|node:internal|\/node_modules\//;
