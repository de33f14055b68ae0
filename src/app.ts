// The composition root: config → database, provider client, worker, HTTP server (and in sandbox mode
// the simulators and demo data). `serve` and the tests start the gateway through here.
import { loadSigningKey, type AuditSigning } from './audit/signing-key.ts';
import { ConfigError, missingCredentials, resolvesToSandbox, type Config } from './config.ts';
import { openDatabase, type Database } from './db/open.ts';
import { ChangeFeed } from './live/feed.ts';
import { releaseLeases } from './outbox/claim.ts';
import { createLogger, type Logger } from './logging.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import type { Observer } from './observer.ts';
import { ProviderClient } from './providers/http.ts';
import { systemRuntime, type Runtime } from './runtime.ts';
import { sandboxBanner, sandboxQuery, seedDemo, startSandboxProviders, type Sandbox } from './sandbox.ts';
import { createGateway, listen } from './server.ts';
import { Circuits } from './worker/circuit.ts';
import { Worker, type WorkerOptions } from './worker/worker.ts';

export interface GatewayOptions {
  runtime?: Runtime;
  logger?: Logger;
  /** false: no worker in this process (tests drive one themselves). */
  worker?: false | WorkerOptions;
  /** Receives every SQL statement (tests count them). */
  onQuery?: (sql: string, params: unknown[]) => void;
  /** Where the sandbox banner goes (stdout by default). */
  print?: (text: string) => void;
  /** Told of every deletion and provider call, besides the logs and the metrics. */
  observer?: Observer;
  /** The provider circuits of the process (default: new ones, with the worker options' threshold and cooldown). */
  circuits?: Circuits;
}

export interface GatewayHandle {
  url: string;
  config: Config;
  db: Database;
  runtime: Runtime;
  instanceId: string;
  client: ProviderClient;
  /** The provider circuits of this process: the worker and the request path share them. */
  circuits: Circuits;
  worker: Worker | null;
  /** The change feed every subscription stream of this process follows. */
  feed: ChangeFeed;
  sandbox: Omit<Sandbox, 'config' | 'stop'> | null;
  metrics: Metrics;
  /** What signs the audit logs' checkpoints (AUDIT_SIGNING_KEY_FILE); `key.verifierKey` is its public half. */
  signing: AuditSigning;
  close(): Promise<void>;
}

export function loggingObserver(logger: Logger): Observer {
  return {
    deletion: (event) => logger.debug({ event: 'deletion', ...event }, 'deletion decided'),
    upstreamCall: (event) =>
      logger.info(
        { event: 'provider_call', provider: event.provider, kind: event.kind, status: event.status, httpStatus: event.httpStatus, reason: event.reason, latencyMs: Math.round(event.latencyMs * 10) / 10, via: event.via },
        'provider call',
      ),
  };
}

/** One observer that tells each of several (logs, metrics, a test's own). */
export function observeAll(observers: readonly Observer[]): Observer {
  return {
    deletion: (event) => {
      for (const observer of observers) observer.deletion(event);
    },
    upstreamCall: (event) => {
      for (const observer of observers) observer.upstreamCall(event);
    },
  };
}

export async function startGateway(baseConfig: Config, options: GatewayOptions = {}): Promise<GatewayHandle> {
  const runtime = options.runtime ?? systemRuntime;
  const logger = options.logger ?? createLogger(baseConfig.logLevel);
  const print = options.print ?? ((text: string) => process.stdout.write(`${text}\n`));
  const instanceId = runtime.newId('gw');

  let config = baseConfig;
  let simulators: Sandbox['simulators'] | null = null;
  const sandboxed = resolvesToSandbox(baseConfig);
  if (!sandboxed) {
    const missing = missingCredentials(config);
    if (missing.length > 0) {
      throw new ConfigError(
        missing[0]!,
        `is not set (missing: ${missing.join(', ')}). Set every provider credential${config.production ? '' : ', or leave them all unset (or SANDBOX=1) for the sandbox'}.`,
      );
    }
  }
  // Once, at start: a missing key in production, or a file that is no key, stops the start here.
  const { signing, created, exposedMode } = loadSigningKey(baseConfig.audit, baseConfig.production);
  if (created) logger.warn({ file: baseConfig.audit.signingKeyFile }, 'created a new audit signing key (AUDIT_SIGNING_KEY_FILE did not exist); keep it secret and back it up');
  if (exposedMode !== null) {
    logger.warn({ file: baseConfig.audit.signingKeyFile, mode: exposedMode.toString(8) }, 'the audit signing key file is readable by other users; chmod 600 it');
  }
  if (sandboxed) ({ config, simulators } = await startSandboxProviders(baseConfig));

  let db: Database;
  try {
    db = await openDatabase(config.database, options.onQuery ? { onQuery: options.onQuery } : {});
  } catch (error) {
    await simulators?.stop();
    throw error;
  }
  const client = new ProviderClient(config, runtime.clock);
  const feed = new ChangeFeed(db, logger);
  const metrics = createMetrics(db, { liveStreams: () => feed.streams });
  const observer = observeAll([loggingObserver(logger), metrics.observer, ...(options.observer ? [options.observer] : [])]);
  // One circuit per provider for the whole process: what the worker sees failing, the request path
  // does not call either, and the other way round.
  const workerOptions = options.worker === false ? {} : (options.worker ?? {});
  const circuits = options.circuits ?? new Circuits(runtime.clock, workerOptions.circuitThreshold, workerOptions.circuitCooldownMs);
  // WORKER_IN_SERVE=0: the retries run in a separate `gateway worker` process.
  const worker =
    options.worker === false || !config.workerInServe ? null : new Worker(db, config, runtime, client, observer, logger, instanceId, { ...workerOptions, circuits });

  let sandbox: GatewayHandle['sandbox'] = null;
  let seeded: Awaited<ReturnType<typeof seedDemo>> | null = null;
  if (simulators) seeded = await seedDemo(db, runtime, config, simulators);

  const gateway = createGateway({
    config,
    db,
    runtime,
    client,
    circuits,
    observer,
    logger,
    instanceId,
    allowLocalhostOrigins: simulators !== null,
    metrics,
    signing,
    feed,
    ...(seeded
      ? {
          graphiql: {
            defaultQuery: sandboxQuery(seeded.resources),
            // The page is served without a key: prefill the demo admin key only where nobody else can load it.
            ...(/^(127\.\d+\.\d+\.\d+|localhost|::1|\[::1\])$/.test(config.host) ? { headers: { Authorization: `Bearer ${seeded.keys.admin}` } } : {}),
          },
        }
      : {}),
  });
  const server = await listen(gateway.handler, config.port, config.host);
  if (simulators && seeded) {
    sandbox = { simulators, keys: seeded.keys, resources: seeded.resources };
    print(sandboxBanner(server.url, seeded.keys, seeded.resources, simulators));
  }
  worker?.start();
  logger.info({ url: `${server.url}/graphql`, sandbox: simulators !== null, worker: worker !== null }, 'gateway listening');

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      // Stop taking requests; let those in flight (and their provider calls) finish, within bounds.
      const drained = server.close();
      // Open subscription streams would hold their connections until the forced close below: cut
      // them now (clients subscribe again and get the current state first), refuse new ones.
      const streams = gateway.endStreams();
      await feed.close();
      if (streams > 0) logger.info({ streams }, 'subscription streams closed');
      // Keep-alive clients would go on sending on their open connections until forced off mid-request:
      // answer from now on with `Connection: close`, and close connections as they fall idle.
      server.server.on('request', (_req, res) => {
        if (!res.headersSent) res.setHeader('connection', 'close');
      });
      const sweep = setInterval(() => server.server.closeIdleConnections(), 100);
      const forced = new Promise<void>((resolve) =>
        setTimeout(() => {
          server.server.closeAllConnections();
          resolve();
        }, config.upstreamTimeoutMs + 2_000).unref(),
      );
      await Promise.race([drained, forced]);
      clearInterval(sweep);
      await worker?.stop(config.upstreamTimeoutMs + 2_000);
      await db.write(() => releaseLeases(instanceId, runtime.clock.now()));
      await client.close();
      await db.close();
      await simulators?.stop();
      logger.info('gateway stopped');
    })());

  return { url: server.url, config, db, runtime, instanceId, client, circuits, worker, feed, sandbox, metrics, signing, close };
}
