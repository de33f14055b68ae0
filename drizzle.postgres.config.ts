import { defineConfig } from 'drizzle-kit';

// The PostgreSQL half of `npm run db:generate` (drizzle.config.ts is SQLite's).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/postgres/schema.ts',
  out: './drizzle/postgres',
});
