import { defineConfig } from 'vitest/config'

// The Tor tests (test/tor): one private Tor network on loopback, started once
// by test/tor/global-setup.ts and shared by every file; files run one at a time.
export default defineConfig({
  test: {
    include: ['test/tor/**/*.test.ts'],
    globalSetup: ['test/tor/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default']
  }
})
