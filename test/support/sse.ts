// Subscriptions as a frontend opens them: the graphql-sse client (GraphQL over SSE, distinct
// connections mode) against the real server, and a raw fetch for what the client hides (status,
// headers, the exact body).
import { createClient, type ExecutionResult } from 'graphql-sse';

export type Result<T = Record<string, any>> = ExecutionResult<T, Record<string, unknown>>;

export interface Stream<T = Record<string, any>> {
  /** Every `next` received so far, in order. */
  results: Result<T>[];
  /** Date.now() when each result arrived. */
  receivedAt: number[];
  /** Resolves with result `n` (0-based) once it has arrived; rejects if the stream ends first. */
  nth(n: number): Promise<Result<T>>;
  /** Resolves with every result when the server sends `complete`; rejects with the client's error otherwise. */
  ended: Promise<Result<T>[]>;
  /** Unsubscribes (the client aborts its request). */
  close(): void;
}

export function subscribe<T = Record<string, any>>(url: string, key: string | null, query: string, variables: Record<string, unknown> = {}, operationName?: string): Stream<T> {
  const client = createClient({
    url: `${url}/graphql`,
    headers: key ? { authorization: `Bearer ${key}` } : {},
    // A test sees every refusal and every dropped connection as it is.
    retryAttempts: 0,
  });
  const results: Result<T>[] = [];
  const receivedAt: number[] = [];
  const waiters = new Set<() => void>();
  let finished: { error: unknown } | null = null;
  let resolveEnded!: (results: Result<T>[]) => void;
  let rejectEnded!: (error: unknown) => void;
  const ended = new Promise<Result<T>[]>((resolve, reject) => {
    resolveEnded = resolve;
    rejectEnded = reject;
  });
  // A test that only looks at nth() must not fail on an unobserved rejection.
  ended.catch(() => undefined);
  const settle = (error: unknown) => {
    finished = { error };
    for (const wake of waiters) wake();
    client.dispose();
  };
  const dispose = client.subscribe<T>(
    { query, variables, ...(operationName ? { operationName } : {}) },
    {
      next: (result) => {
        results.push(result as Result<T>);
        receivedAt.push(Date.now());
        for (const wake of waiters) wake();
      },
      error: (error) => {
        settle(error);
        rejectEnded(error);
      },
      complete: () => {
        settle(null);
        resolveEnded(results);
      },
    },
  );
  return {
    results,
    receivedAt,
    ended,
    nth: (n) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (results.length > n) {
            waiters.delete(check);
            resolve(results[n]!);
          } else if (finished) {
            waiters.delete(check);
            reject(new Error(`the stream ended after ${results.length} results, before result ${n}: ${String(finished.error ?? 'complete')}`));
          }
        };
        waiters.add(check);
        check();
      }),
    close: () => {
      dispose();
      client.dispose();
    },
  };
}

/** One subscription request by hand: the status, headers and whole body of an answer that ends. */
export async function subscribeRaw(url: string, key: string | null, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** The JSON payloads of the `next` events of an SSE body. */
export function nextEvents(body: string): Result[] {
  return body
    .split('\n\n')
    .filter((block) => block.startsWith('event: next\n'))
    .map((block) => JSON.parse(block.slice(block.indexOf('data: ') + 'data: '.length)) as Result);
}
