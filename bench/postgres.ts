// `npm run bench:postgres`: the gateway on PostgreSQL against the floor and against itself on SQLite,
// and two instances on one PostgreSQL database against one, in alternating rounds of one run.
//   BENCH_DATABASE_URL (or TEST_DATABASE_URL): a PostgreSQL server the run may create databases on,
//   e.g. export BENCH_DATABASE_URL=$(bash scripts/postgres.sh | tail -n 1)
// The floor is the SQLite one of `npm run bench` (bench/floor.ts): the least one delete costs here.
import { join } from 'node:path';
import {
  benchmark,
  buildGateway,
  createPostgresDatabase,
  deleteTranscriptionBody,
  firstLine,
  fmt,
  load,
  median,
  node,
  prepareDatabase,
  requireNoFailures,
  startGateway,
  startSimulators,
  transcriptionIds,
  work,
  type LoadResult,
  type LoadTarget,
} from './support.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PLAN = [
  { connections: 1, requests: 600 },
  { connections: 32, requests: 3000 },
];

async function main() {
  const server = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (!server) throw new Error('set BENCH_DATABASE_URL to a PostgreSQL server: export BENCH_DATABASE_URL=$(bash scripts/postgres.sh | tail -n 1)');
  buildGateway();
  const simulators = await startSimulators();
  const perSystem = 500 + PLAN.reduce((sum, p) => sum + p.requests * ROUNDS, 0);

  const floorPath = join(work, 'floor.db');
  const floorIds = transcriptionIds('f', perSystem);
  await prepareDatabase({ path: floorPath }, floorIds);
  const floor = node(['bench/floor.ts', floorPath, simulators.urls.aitronos!, 'bench-aitronos-key'], {});
  const floorUrl = await firstLine(floor);

  const sqlitePath = join(work, 'gateway.db');
  const sqliteIds = transcriptionIds('s', perSystem);
  const sqliteKey = await prepareDatabase({ path: sqlitePath }, sqliteIds);
  const sqlite = await startGateway({ path: sqlitePath }, simulators.urls);

  // One database, two `gateway serve` processes (each with its worker, as replicas run).
  const pgTarget = { url: await createPostgresDatabase(server, 'pg'), poolSize: 10 };
  const pgIds = transcriptionIds('p', perSystem + PLAN[1]!.requests * ROUNDS);
  const pgKey = await prepareDatabase(pgTarget, pgIds);
  const pgA = await startGateway(pgTarget, simulators.urls);
  const pgB = await startGateway(pgTarget, simulators.urls);

  const auth = (key: string) => ({ authorization: `Bearer ${key}` });
  const systems: { name: string; targets: LoadTarget[]; ids: string[]; body: (id: string) => string; only?: number }[] = [
    { name: 'floor (SQLite)', targets: [{ url: `${floorUrl}/delete`, headers: {} }], ids: floorIds, body: (id) => JSON.stringify({ id }) },
    { name: 'gateway, SQLite', targets: [{ url: `${sqlite.url}/graphql`, headers: auth(sqliteKey) }], ids: sqliteIds, body: deleteTranscriptionBody },
    { name: 'gateway, PostgreSQL', targets: [{ url: `${pgA.url}/graphql`, headers: auth(pgKey) }], ids: pgIds, body: deleteTranscriptionBody },
    {
      name: 'two gateways, one PostgreSQL',
      targets: [pgA, pgB].map((g) => ({ url: `${g.url}/graphql`, headers: auth(pgKey) })),
      ids: pgIds,
      body: deleteTranscriptionBody,
      only: 32,
    },
  ];
  // The two PostgreSQL systems share one list of ids, so one cursor per list.
  const cursors = new Map<string[], number>();
  const take = (list: string[], n: number) => {
    const from = cursors.get(list) ?? 0;
    cursors.set(list, from + n);
    if (from + n > list.length) throw new Error('bench ran out of prepared ids');
    return list.slice(from, from + n);
  };

  for (const system of systems) requireNoFailures(`warm-up of ${system.name}`, [await load(system.targets, 8, system.body, take(system.ids, 250))]);

  const rows: { connections: number; name: string; rps: number; p50: number; p99: number }[] = [];
  for (const { connections, requests } of PLAN) {
    const runs = new Map<string, LoadResult[]>();
    const taking = systems.filter((s) => s.only === undefined || s.only === connections);
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const system of taking) {
        const run = await load(system.targets, connections, system.body, take(system.ids, requests));
        runs.set(system.name, [...(runs.get(system.name) ?? []), run]);
      }
    }
    requireNoFailures(`concurrency ${connections}`, [...runs.values()].flat());
    for (const system of taking) {
      const r = runs.get(system.name)!;
      rows.push({ connections, name: system.name, rps: median(r.map((x) => x.rps)), p50: median(r.map((x) => x.p50)), p99: median(r.map((x) => x.p99)) });
    }
  }

  console.log(`\nPostgreSQL benchmark — ${ROUNDS} alternating rounds (median); the floor is bench/floor.ts on SQLite\n`);
  console.log('| concurrency | system | req/s | p50/p99 ms | of the floor | of the SQLite gateway |');
  console.log('|---|---|---|---|---|---|');
  for (const row of rows) {
    const floorRps = rows.find((r) => r.connections === row.connections && r.name === systems[0]!.name)!.rps;
    const sqliteRps = rows.find((r) => r.connections === row.connections && r.name === systems[1]!.name)!.rps;
    console.log(`| ${row.connections} | ${row.name} | ${fmt(row.rps, 0)} | ${fmt(row.p50, 2)}/${fmt(row.p99, 2)} | ${fmt(row.rps / floorRps, 2)} | ${fmt(row.rps / sqliteRps, 2)} |`);
  }
}

await benchmark(main);
