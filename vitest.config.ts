import { configDefaults, defineConfig } from "vitest/config";

// The database outage suite runs PostgreSQL clusters of its own whatever the engine: once per CI
// run (the embedded pass) is enough.
const once_per_run = process.env.DATABASE_URL ? ["test/reliability/db-outage.test.ts"] : [];

// One worker process for the whole run: the embedded database (PGlite) takes seconds to start,
// so every suite shares one instance and gets a schema of its own (test/support/db.ts).
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: [...configDefaults.exclude, ...once_per_run],
    pool: "forks",
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ["default"],
  },
});
