import { defineConfig } from 'vitest/config'
import { defaultClientConditions, defaultServerConditions } from 'vite'

const SOURCE_CONDITION = 'beam-source'
const NODE_OPTIONS = [process.env.NODE_OPTIONS, `--conditions=${SOURCE_CONDITION}`].filter(o => o != null && o !== '').join(' ')

export default defineConfig({
  // 'beam' (the package importing itself, as an app would) resolves to the
  // sources through the "beam-source" export condition, so that the tests
  // need no build: see docs/embedding.md, "Install". NODE_OPTIONS carries
  // the condition to the Node processes that tests spawn (examples, app nodes).
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    env: { NODE_OPTIONS },
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e tests spawn real beam processes; two cores, so keep files mostly serial
    fileParallelism: true,
    maxWorkers: 2,
    reporters: ['default']
  }
})
