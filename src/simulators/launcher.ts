// Starts the four provider simulators together (sandbox mode, tests, benchmarks).
import { AitronosSimulator } from './aitronos.ts';
import { DailySimulator } from './daily.ts';
import { RevAiSimulator } from './revai.ts';
import { ScriptixSimulator } from './scriptix.ts';

export interface SimulatorCredentials {
  aitronosApiKey: string;
  scriptixApiKey: string;
  dailyApiKey: string;
  revaiAccessToken: string;
}

export interface StartSimulatorsOptions {
  credentials: SimulatorCredentials;
  dailyCustomBucket?: string;
  host?: string;
}

export interface Simulators {
  aitronos: AitronosSimulator;
  revai: RevAiSimulator;
  scriptix: ScriptixSimulator;
  daily: DailySimulator;
  /** No trailing slash; Daily's ends in /v1 like the real one. */
  baseUrls: { aitronos: string; revai: string; scriptix: string; daily: string };
  stop(): Promise<void>;
}

export async function startSimulators(opts: StartSimulatorsOptions): Promise<Simulators> {
  const { credentials: c, host } = opts;
  const hostOpt = host === undefined ? {} : { host };
  const aitronos = new AitronosSimulator({ ...hostOpt, apiKey: c.aitronosApiKey });
  const revai = new RevAiSimulator({ ...hostOpt, accessToken: c.revaiAccessToken });
  const scriptix = new ScriptixSimulator({ ...hostOpt, apiKey: c.scriptixApiKey });
  const daily = new DailySimulator({
    ...hostOpt,
    apiKey: c.dailyApiKey,
    ...(opts.dailyCustomBucket === undefined ? {} : { customBucket: opts.dailyCustomBucket }),
  });
  const all = [aitronos, revai, scriptix, daily];
  const stop = async (): Promise<void> => {
    await Promise.all(all.map((s) => s.stop()));
  };

  const started = await Promise.allSettled(all.map((s) => s.start()));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await stop(); // do not leave the ones that did start listening
    throw failed.reason;
  }
  return {
    aitronos,
    revai,
    scriptix,
    daily,
    baseUrls: { aitronos: aitronos.baseUrl, revai: revai.baseUrl, scriptix: scriptix.baseUrl, daily: daily.baseUrl },
    stop,
  };
}
