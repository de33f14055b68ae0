#!/usr/bin/env node
// The `gateway` command: runs the compiled CLI (dist/, built by `npm run build`, which `npm ci`
// and `npm start` run themselves). No TypeScript loader at run time.
import { existsSync } from 'node:fs';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('error: dist/ is missing: run `npm run build` (npm ci and npm start build it themselves)');
  process.exit(1);
}
await import(main.href);
