// `npm run bench:soak`: 100,000 deletions (BENCH_SOAK) through one gateway at concurrency 32, the
// serving process's resident set read at every tenth of the run. After warm-up the line must stay
// flat: growth from 20 % to 100 % of the run of at most 10 %, else the run fails.
import { join } from 'node:path';
import {
  benchmark,
  buildGateway,
  deleteTranscriptionBody,
  fmt,
  load,
  prepareDatabase,
  requireNoFailures,
  rssMiB,
  startGateway,
  startSimulators,
  stop,
  transcriptionIds,
  work,
} from './support.ts';

const TOTAL = Number(process.env.BENCH_SOAK ?? 100_000);
const ALLOWED_GROWTH = 0.1;

async function main() {
  if (!Number.isInteger(TOTAL) || TOTAL < 1000) throw new Error('BENCH_SOAK must be a whole number of at least 1000');
  buildGateway();
  const simulators = await startSimulators();
  const target = { path: join(work, 'soak.db') };
  const ids = transcriptionIds('s', TOTAL);
  const key = await prepareDatabase(target, ids);
  const gateway = await startGateway(target, simulators.urls);
  const pid = gateway.child.pid;

  const atStart = rssMiB(pid, 'VmRSS');
  const samples: { answered: number; rssMiB: number; seconds: number }[] = [];
  const started = performance.now();
  let nextTenth = 1;
  const run = await load([{ url: `${gateway.url}/graphql`, headers: { authorization: `Bearer ${key}` } }], 32, deleteTranscriptionBody, ids, (answered) => {
    if (answered < (nextTenth * TOTAL) / 10) return;
    samples.push({ answered, rssMiB: rssMiB(pid, 'VmRSS'), seconds: (performance.now() - started) / 1000 });
    nextTenth += 1;
  });
  const peak = rssMiB(pid, 'VmHWM');
  await stop(gateway.child);
  await stop(simulators.child);
  requireNoFailures('soak', [run]);

  const at = (fraction: number) => samples.find((s) => s.answered >= fraction * TOTAL)!;
  const warm = at(0.2);
  const end = samples[samples.length - 1]!;
  const growth = (end.rssMiB - warm.rssMiB) / warm.rssMiB;

  console.log(`\nSoak: ${TOTAL} deletions at concurrency 32 in ${fmt(run.seconds, 1)} s (${fmt(run.rps, 0)}/s), p99 ${fmt(run.p99, 1)} ms`);
  console.log('\n| answered | seconds | RSS MiB |');
  console.log('|---|---|---|');
  console.log(`| 0 (started) | 0 | ${fmt(atStart, 0)} |`);
  for (const s of samples) console.log(`| ${s.answered} | ${fmt(s.seconds, 1)} | ${fmt(s.rssMiB, 0)} |`);
  console.log(`\nRSS ${fmt(warm.rssMiB, 0)} MiB at 20 % → ${fmt(end.rssMiB, 0)} MiB at 100 %: ${growth >= 0 ? '+' : ''}${fmt(growth * 100, 1)} % (allowed +${ALLOWED_GROWTH * 100} %); peak ${fmt(peak, 0)} MiB`);
  if (growth > ALLOWED_GROWTH) throw new Error(`resident set grew ${fmt(growth * 100, 1)} % after warm-up: something keeps what it should let go`);
}

await benchmark(main);
