// Where each dialect's migrations live: drizzle/sqlite and drizzle/postgres (drizzle-kit output).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const MIGRATIONS_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../drizzle');
