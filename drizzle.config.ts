import { defineConfig } from 'drizzle-kit';

// One config per dialect: `npm run db:generate` runs both (drizzle-kit generate --config …).
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/db/sqlite/schema.ts',
  out: './drizzle/sqlite',
});
