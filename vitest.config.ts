import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real guests and servers on 2 shared cores: a loaded CI machine has timed run-command tests out at 60 s.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // e2e and integration tests start real servers and child processes on random ports.
    pool: 'forks',
    // Most files wait on servers, timers and guests rather than compute: three at once on CI's 2 cores (vitest would
    // run one), which took the suite from 10.5 to 6.2 minutes (2026-12-06, quiet machine).
    maxWorkers: 3,
  },
});
