#!/usr/bin/env node
// `gateway` CLI: serve | worker | migrate | keys create|list|revoke | resources import |
// audit verify|export|keygen|public-key. Every command that uses the database applies pending
// migrations first (openDatabase does), so it works on a fresh database.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConfigError, loadConfig, missingCredentials, type Config } from './config.ts';
import { openDatabase, type Database } from './db/open.ts';
import { createKey, KeyInputError, listKeys, revokeKey } from './auth/keys.ts';
import { registerResources, MAX_RESOURCES_PER_CALL, type ResourceInputValue } from './catalog/register.ts';
import { auditRows, exportLine, verifyAllLogs } from './audit/verify.ts';
import { generateSigningKeyPem, loadSigner } from './audit/note.ts';
import { existingSigningKey, loadSigningKey, writeNewKeyFile } from './audit/signing-key.ts';
import { systemRuntime } from './runtime.ts';

const USAGE = `Usage: gateway <command>

  serve                                   start the GraphQL gateway (and the retry worker)
  worker                                  run only the upstream retry worker
  migrate                                 apply pending database migrations
  keys create --org ORG --user USER --role admin|member|viewer [--label TEXT]
                                          create an API key; prints it once, on the last line
  keys list                               list keys (ids, never the keys)
  keys revoke KEY_ID                      revoke a key
  resources import FILE.ndjson            register resources, one ResourceInput JSON a line
  audit verify                            recompute every audit log: chain, Merkle tree, checkpoints
                                          (exit 1 when broken)
  audit export [--since ISO] [--org ORG]  write the audit trail as NDJSON to stdout
  audit keygen --out FILE                 write a new Ed25519 checkpoint signing key (PKCS#8 PEM,
                                          mode 0600); never overwrites a file
  audit public-key                        print the verifier key of AUDIT_SIGNING_KEY_FILE, alone on
                                          the last line (give it to auditors)
  erasure request --org ORG --subject ID [--reason TEXT] [--idempotency-key KEY]
                                          erase everything of ORG that end user ID holds at every
                                          provider (as an admin of ORG); a running serve or worker
                                          delivers it. Prints the request id on the last line
  erasure status REQUEST_ID               the request's status and counts, as JSON
  erasure receipt REQUEST_ID              its sdg-receipt/1 document (JSON) once nothing is pending;
                                          check it with scripts/verify-receipt.mjs

Configuration comes from the environment (see README).`;

class UsageError extends Error {}
/** The command was right, the data it was given is not (a bad import line): no usage text, exit 1. */
class InputError extends Error {}

function flags(args: string[], allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const name = arg.slice(2);
    if (!allowed.includes(name)) throw new UsageError(`unknown option --${name} (expected ${allowed.map((a) => `--${a}`).join(', ')})`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    out[name] = value;
    i += 1;
  }
  return out;
}

async function withDb<T>(config: Config, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(config.database);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function importResources(config: Config, file: string): Promise<number> {
  return withDb(config, async (db) => {
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let batch: ResourceInputValue[] = [];
    let batchLines: number[] = [];
    let lineNo = 0;
    let total = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const result = await registerResources(db, systemRuntime, { operator: true }, { traceId: 'cli', now: new Date() }, batch);
      if ('__typename' in result) {
        const index = result.details?.index;
        const where = typeof index === 'number' ? `line ${batchLines[index]}` : `lines ${batchLines[0]}–${batchLines.at(-1)}`;
        // The line number is what the operator can find; the batch index of the message is not.
        const problem = result.message.replace(/^resources\[\d+\]\./, '');
        throw new InputError(`${where}: ${problem} (nothing from line ${batchLines[0]} on was registered)`);
      }
      total += result.registered;
      batch = [];
      batchLines = [];
    };
    for await (const line of lines) {
      lineNo += 1;
      if (line.trim() === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new InputError(`line ${lineNo}: not valid JSON`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InputError(`line ${lineNo}: expected a JSON object`);
      batch.push(parsed as ResourceInputValue);
      batchLines.push(lineNo);
      if (batch.length === MAX_RESOURCES_PER_CALL) await flush();
    }
    await flush();
    return total;
  });
}

async function run(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  const config = loadConfig(process.env);
  switch (command) {
    case 'serve': {
      if (sub !== undefined) throw new UsageError('serve takes no arguments');
      // Listening for the signal from the start: a SIGTERM during start-up still closes gracefully.
      const signal = waitForSignal();
      // Loaded only here: the GraphQL schema, yoga and undici would triple the start-up time of
      // the short commands (keys, resources, audit) that scripts run one after another.
      const { startGateway } = await import('./app.ts');
      const gateway = await startGateway(config);
      await signal;
      await gateway.close();
      return 0;
    }
    case 'worker': {
      if (sub !== undefined) throw new UsageError('worker takes no arguments');
      const signal = waitForSignal();
      const missing = missingCredentials(config);
      if (missing.length > 0) throw new ConfigError(missing[0]!, `is not set (missing: ${missing.join(', ')}); the worker calls the providers`);
      const [{ loggingObserver }, { createLogger }, { ProviderClient }, { Worker }, { releaseLeases }] = await Promise.all([
        import('./app.ts'),
        import('./logging.ts'),
        import('./providers/http.ts'),
        import('./worker/worker.ts'),
        import('./outbox/claim.ts'),
      ]);
      const logger = createLogger(config.logLevel);
      const db = await openDatabase(config.database);
      const instanceId = systemRuntime.newId('wk');
      const client = new ProviderClient(config, systemRuntime.clock);
      const worker = new Worker(db, config, systemRuntime, client, loggingObserver(logger), logger, instanceId);
      worker.start();
      logger.info({ instanceId }, 'worker started');
      await signal;
      await worker.stop(config.upstreamTimeoutMs + 2_000);
      await db.write(() => releaseLeases(instanceId, new Date()));
      await client.close();
      await db.close();
      return 0;
    }
    case 'migrate':
      await withDb(config, async () => undefined);
      console.log(`migrations applied to ${'path' in config.database ? config.database.path : 'the PostgreSQL database of DATABASE_URL'}`);
      return 0;
    case 'keys':
      if (sub === 'create') {
        const f = flags(rest, ['org', 'user', 'role', 'label']);
        const missing = (['org', 'user', 'role'] as const).filter((name) => !f[name]).map((name) => `--${name}`);
        if (missing.length > 0) throw new UsageError(`keys create is missing ${missing.join(', ')} (needs --org ORG --user USER --role admin|member|viewer)`);
        const { key, row } = await withDb(config, (db) =>
          createKey(db, systemRuntime, { organizationId: f.org!, userId: f.user!, role: f.role!, ...(f.label ? { label: f.label } : {}) }),
        );
        console.log(`created key ${row.id} for user ${row.userId} (${row.role}) in ${row.organizationId}; it is shown once, store it now:`);
        console.log(key);
        return 0;
      }
      if (sub === 'list') {
        if (rest.length > 0) throw new UsageError('keys list takes no arguments');
        const rows = await withDb(config, listKeys);
        console.log(['id', 'prefix', 'organization', 'user', 'role', 'created', 'revoked'].join('\t'));
        for (const r of rows) console.log([r.id, `${r.prefix}…`, r.organizationId, r.userId, r.role, r.createdAt, r.revokedAt ?? '-'].join('\t'));
        return 0;
      }
      if (sub === 'revoke') {
        const [id, ...extra] = rest;
        if (!id || extra.length > 0) throw new UsageError('keys revoke needs exactly one KEY_ID (see keys list)');
        const revoked = await withDb(config, (db) => revokeKey(db, systemRuntime, id));
        if (!revoked) {
          console.error(`no active key ${id}`);
          return 1;
        }
        console.log(`revoked ${id}`);
        return 0;
      }
      throw new UsageError('keys needs create, list or revoke');
    case 'resources': {
      const [file, ...extra] = rest;
      if (sub !== 'import' || !file || extra.length > 0) throw new UsageError('resources import FILE.ndjson');
      const count = await importResources(config, file);
      console.log(`registered ${count} resources`);
      return 0;
    }
    case 'audit':
      if (sub === 'verify') {
        if (rest.length > 0) throw new UsageError('audit verify takes no arguments');
        // The newest checkpoint of each log is signature-checked when the key is here to check it with.
        const verifierKey = existingSigningKey(config.audit)?.key.verifierKey ?? null;
        const results = await withDb(config, (db) => verifyAllLogs(db, verifierKey));
        let broken = 0;
        let events = 0;
        let checkpoints = 0;
        for (const [logId, result] of results) {
          events += result.eventsChecked;
          checkpoints += result.checkpointsChecked;
          if (result.valid) continue;
          broken += 1;
          const where = result.firstInvalidEventId ? `at event ${result.firstInvalidEventId}` : 'at its end';
          console.log(`log ${logId}: BROKEN ${where} (${result.eventsChecked} events checked): ${result.problem}`);
        }
        if (broken === 0) {
          const signatures = verifierKey ? `signatures checked with ${verifierKey}` : 'signatures not checked: no key at AUDIT_SIGNING_KEY_FILE';
          console.log(`audit trail intact: ${results.size} logs, ${events} events checked; ${checkpoints} signed checkpoints match them (${signatures})`);
          return 0;
        }
        console.log(`audit trail BROKEN: ${broken} of ${results.size} logs`);
        return 1;
      }
      if (sub === 'export') {
        const f = flags(rest, ['since', 'org']);
        if (f.since !== undefined && Number.isNaN(Date.parse(f.since))) throw new UsageError('--since must be an ISO-8601 time');
        const since = f.since ? new Date(f.since).toISOString() : undefined;
        await withDb(config, async (db) => {
          for await (const row of auditRows(db, { ...(since ? { since } : {}), ...(f.org ? { logId: f.org } : {}) })) {
            if (!process.stdout.write(`${exportLine(row)}\n`)) await new Promise((resolve) => process.stdout.once('drain', resolve));
          }
        });
        return 0;
      }
      if (sub === 'keygen') {
        const f = flags(rest, ['out']);
        if (!f.out) throw new UsageError('audit keygen needs --out FILE');
        const pem = generateSigningKeyPem();
        let written: boolean;
        try {
          written = writeNewKeyFile(f.out, pem);
        } catch (error) {
          throw new InputError(`cannot write ${f.out}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
        }
        if (!written) throw new InputError(`${f.out} already exists; keygen never overwrites a key (move it away first, or choose another --out)`);
        console.log(`wrote a new Ed25519 audit signing key to ${f.out} (mode 0600). Point AUDIT_SIGNING_KEY_FILE at it; its verifier key as ${config.audit.keyName}:`);
        console.log(loadSigner(pem, config.audit.keyName).verifierKey);
        return 0;
      }
      if (sub === 'public-key') {
        if (rest.length > 0) throw new UsageError('audit public-key takes no arguments');
        const { signing, created } = loadSigningKey(config.audit, config.production);
        if (created) console.error(`created a new audit signing key at ${config.audit.signingKeyFile} (AUDIT_SIGNING_KEY_FILE did not exist)`);
        console.log(signing.key.verifierKey);
        return 0;
      }
      throw new UsageError('audit needs verify, export, keygen or public-key');
    case 'erasure':
      return erasureCommand(config, sub, rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** Writes a document to stdout and waits until it is handed over: process.exit would cut a pipe's write short. */
function printWhole(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(`${text}\n`, (error) => (error ? reject(error) : resolve())));
}

const ERASURE_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** `gateway erasure request|status|receipt`: the operator's side of PRODUCT.md "Erasing a person everywhere". */
async function erasureCommand(config: Config, sub: string | undefined, rest: string[]): Promise<number> {
  // Loaded only here, like serve's: the pipeline and the provider client are not the short commands'.
  const [{ eraseSubject, erasureRequestRow }, { erasureState, erasureReceipt }] = await Promise.all([import('./erasure/request.ts'), import('./erasure/status.ts')]);
  if (sub === 'request') {
    const f = flags(rest, ['org', 'subject', 'reason', 'idempotency-key']);
    const missing = (['org', 'subject'] as const).filter((name) => !f[name]).map((name) => `--${name}`);
    if (missing.length > 0) throw new UsageError(`erasure request is missing ${missing.join(', ')} (needs --org ORG --subject ID)`);
    if (!ERASURE_ID.test(f.org!)) throw new UsageError('--org must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
    const [{ createLoaders }, { ProviderClient }, { Circuits }, { silentObserver }] = await Promise.all([
      import('./catalog/loaders.ts'),
      import('./providers/http.ts'),
      import('./worker/circuit.ts'),
      import('./observer.ts'),
    ]);
    return withDb(config, async (db) => {
      const requestId = systemRuntime.newId('cli');
      // No provider is called here (a worker delivers), but the deletion context carries a client.
      const client = new ProviderClient(config, systemRuntime.clock);
      try {
        const result = await eraseSubject(
          {
            db,
            config,
            runtime: systemRuntime,
            client,
            loaders: createLoaders(db),
            observer: silentObserver,
            // The operator acts as an admin of the organisation; the trail names the CLI as the key.
            principal: { keyId: 'cli', organizationId: f.org!, userId: 'operator', role: 'admin' },
            requestId,
            traceId: requestId,
            instanceId: systemRuntime.newId('cli'),
            circuits: new Circuits(systemRuntime.clock),
          },
          { subjectId: f.subject!, reason: f.reason ?? null, idempotencyKey: f['idempotency-key'] ?? null },
        );
        if ('__typename' in result) {
          if (result.__typename === 'ErasurePreview') throw new Error('unreachable: no dry run from the CLI');
          const field = result.__typename === 'ValidationError' && result.field ? ` (${result.field === 'subjectId' ? '--subject' : result.field === 'idempotencyKey' ? '--idempotency-key' : `--${result.field}`})` : '';
          throw new InputError(`${result.message}${field}`);
        }
        const state = await db.read(erasureState(result.organizationId, result.id));
        console.log(`erasure request for subject ${result.subjectId} in ${result.organizationId}: ${state!.status}, ${state!.totals.resources} resources (${state!.totals.pending} pending); a running serve or worker delivers it`);
        console.log(result.id);
        return 0;
      } finally {
        await client.close();
      }
    });
  }
  if (sub === 'status' || sub === 'receipt') {
    const [id, ...extra] = rest;
    if (!id || extra.length > 0) throw new UsageError(`erasure ${sub} needs exactly one REQUEST_ID`);
    if (!ERASURE_ID.test(id)) throw new UsageError('REQUEST_ID must be 1–128 characters of A–Z, a–z, 0–9, _ and -');
    return withDb(config, async (db) => {
      const row = await db.read(erasureRequestRow(id));
      if (!row) throw new InputError(`no erasure request ${id}`);
      const state = (await db.read(erasureState(row.organizationId, id)))!;
      if (sub === 'status') {
        await printWhole(JSON.stringify(state, null, 2));
        return 0;
      }
      const { signing } = loadSigningKey(config.audit, config.production);
      const receipt = await erasureReceipt(db, signing, state, new Date());
      if (!receipt) throw new InputError(`erasure request ${id} is still RUNNING (${state.totals.pending} pending): no receipt yet`);
      await printWhole(JSON.stringify(receipt, null, 2));
      return 0;
    });
  }
  throw new UsageError('erasure needs request, status or receipt');
}

function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    // Signal listeners do not keep Node running, and the worker's timers are unref'd (so an
    // embedding process can exit): without this, `gateway worker` would exit 0 right after starting.
    const keepAlive = setInterval(() => undefined, 2 ** 30);
    const done = () => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once('SIGTERM', done);
    process.once('SIGINT', done);
  });
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(`configuration error: ${error.message}`);
    else if (error instanceof UsageError || error instanceof KeyInputError) console.error(`error: ${error.message}\n\n${USAGE}`);
    else console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(error instanceof UsageError || error instanceof KeyInputError ? 2 : 1);
  },
);
