import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { createKey } from '/work/main/src/auth/keys.ts';
import { registerResources } from '/work/main/src/catalog/register.ts';
import { closeDatabase, openDatabase } from '/work/main/src/db/open.ts';
import { systemRuntime } from '/work/main/src/runtime.ts';
const CRED = { AITRONOS_API_KEY: 'k1', SCRIPTIX_API_KEY: 'k2', DAILY_API_KEY: 'k3', REVAI_ACCESS_TOKEN: 'k4' };
const sims = spawn(process.execPath, ['--import', 'tsx', 'src/simulators/cli.ts'], { cwd: '/work/main', env: { ...process.env, ...CRED }, stdio: ['ignore', 'pipe', 'inherit'] });
let line = ''; for await (const l of createInterface({ input: sims.stdout! })) { line = l; break; }
const urls = JSON.parse(line);
const dbPath = '/tmp/prof/g.db';
const db = openDatabase(dbPath);
const { key } = createKey(db, systemRuntime, { organizationId: 'o', userId: 'u', role: 'admin' });
const N = 6000;
const ids = Array.from({ length: N }, (_, i) => `trans_p${i}`);
for (let i = 0; i < N; i += 1000) registerResources(db, systemRuntime, { operator: true }, { traceId: 'x', now: new Date() }, ids.slice(i, i + 1000).map((id) => ({ kind: 'TRANSCRIPTION', id, provider: 'AITRONOS_AUDIO', organizationId: 'o', ownerId: 'u' })));
closeDatabase(db);
const gw = spawn(process.execPath, ['--cpu-prof', '--cpu-prof-dir=/tmp/prof', '--import', 'tsx', 'src/main.ts', 'serve'], { cwd: '/work/main', env: { ...process.env, ...CRED, SANDBOX: '0', NODE_ENV: 'production', PORT: '4777', DATABASE_PATH: dbPath, AITRONOS_BASE_URL: urls.aitronos, SCRIPTIX_BASE_URL: urls.scriptix, DAILY_BASE_URL: urls.daily, REVAI_BASE_URL: urls.revai, RATE_LIMIT_PER_MINUTE: '1000000', LOG_LEVEL: process.env.GW_LOG ?? 'info' }, stdio: ['ignore', 'ignore', 'inherit'] });
for (let i = 0; i < 100; i++) { try { if ((await fetch('http://127.0.0.1:4777/healthz')).ok) break; } catch {} await new Promise((r) => setTimeout(r, 100)); }
let next = 0;
const r = await autocannon({ url: 'http://127.0.0.1:4777/graphql', connections: Number(process.env.C ?? 8), amount: N, method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, requests: [{ setupRequest: (q: any) => ({ ...q, body: JSON.stringify({ query: 'mutation D($id: ID!) { deleteTranscription(transcriptionId: $id) { __typename ... on TranscriptionDeletion { deletedUpstream upstream { status } } } }', variables: { id: ids[next++] } }) }) }] });
console.log('rps', r.requests.average, 'p50', r.latency.p50, 'p99', r.latency.p99, 'non2xx', r.non2xx);
gw.kill('SIGTERM'); await new Promise((r) => gw.once('exit', r)); sims.kill('SIGTERM');
