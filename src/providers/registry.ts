// Provider → adapter. Adding a provider: write its adapter file, list it here.
import type { Provider } from '../domain.ts';
import type { Adapter } from './adapter.ts';
import { aitronosAudio } from './aitronos-audio.ts';
import { aitronosMusic } from './aitronos-music.ts';
import { daily } from './daily.ts';
import { revAi } from './revai.ts';
import { scriptix } from './scriptix.ts';

export const ADAPTERS: Record<Provider, Adapter> = {
  AITRONOS_AUDIO: aitronosAudio,
  AITRONOS_MUSIC: aitronosMusic,
  SCRIPTIX: scriptix,
  DAILY: daily,
  REV_AI: revAi,
};
