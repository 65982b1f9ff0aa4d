import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests spawn real beam processes; two cores, so keep files mostly serial
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default']
  }
})
