// `tsx src/simulators/cli.ts`: runs the four simulators in their own process (benchmarks,
// crash tests). Prints one JSON line of base URLs on stdout, then runs until SIGTERM/SIGINT.
import { startSimulators } from './launcher.ts';

const env = (name: string, fallback: string): string => {
  const v = process.env[name];
  return v === undefined || v === '' ? fallback : v;
};

const customBucket = process.env['DAILY_CUSTOM_BUCKETS']?.split(',')[0]?.trim();

const sims = await startSimulators({
  credentials: {
    aitronosApiKey: env('AITRONOS_API_KEY', 'sim-aitronos-key'),
    scriptixApiKey: env('SCRIPTIX_API_KEY', 'sim-scriptix-key'),
    dailyApiKey: env('DAILY_API_KEY', 'sim-daily-key'),
    revaiAccessToken: env('REVAI_ACCESS_TOKEN', 'sim-revai-token'),
  },
  // The gateway's own variable, so the simulated custom bucket is one the gateway reports.
  ...(customBucket ? { dailyCustomBucket: customBucket } : {}),
  ...(process.env['SIM_HOST'] ? { host: process.env['SIM_HOST'] } : {}),
});

process.stdout.write(`${JSON.stringify(sims.baseUrls)}\n`);

let stopping = false;
const shutdown = (): void => {
  if (stopping) return;
  stopping = true;
  sims.stop().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`simulators: stop failed: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
