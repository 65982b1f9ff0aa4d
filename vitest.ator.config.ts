import { defineConfig } from 'vitest/config'

// The ATOR tests (test/ator): one private ATOR network (ATOR's anon, a Tor
// fork) on loopback, started once by test/ator/global-setup.ts and shared by
// every file; files run one at a time.
export default defineConfig({
  test: {
    include: ['test/ator/**/*.test.ts'],
    globalSetup: ['test/ator/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default']
  }
})
