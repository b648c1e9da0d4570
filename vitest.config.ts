import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
    globalSetup: ['./tests/global-setup.ts'],
    pool: 'forks',
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', './tests/summary-reporter.ts'],
    // Library logs are quiet in tests unless asked for (FEDKIT_LOG_LEVEL=info pnpm test).
    env: { FEDKIT_LOG_LEVEL: process.env.FEDKIT_LOG_LEVEL ?? 'silent' },
  },
});
