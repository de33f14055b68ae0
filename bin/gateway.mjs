#!/usr/bin/env node
// The `gateway` command: runs the TypeScript CLI through tsx (a runtime dependency), so an install
// needs no build step.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
