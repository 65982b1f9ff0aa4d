import { defineConfig } from 'vitest/config'
import { defaultClientConditions, defaultServerConditions } from 'vite'
import { fileURLToPath } from 'node:url'

const SOURCE_CONDITION = 'beam-source'
const NODE_OPTIONS = [process.env.NODE_OPTIONS, `--conditions=${SOURCE_CONDITION}`].filter(o => o != null && o !== '').join(' ')
// The test-wide guard (docs/internet.md): every beam process a test starts, and
// every in-process CLI run that takes the environment, uses an empty bootstrap
// list instead of the public peers in bootstrap-nodes.json, and no public STUN
// server. test/unit/test-guard.test.ts fails when this is missing.
const GUARD_ENV = {
  BEAM_BOOTSTRAP_FILE: fileURLToPath(new URL('./test/fixtures/bootstrap-none.json', import.meta.url)),
  BEAM_NO_PUBLIC_STUN: '1'
}

// The ATOR tests (test/backends/ator): one private ATOR network (ATOR's anon, a Tor
// fork) on loopback, started once by test/backends/ator/global-setup.ts and shared by
// every file; files run one at a time.
export default defineConfig({
  // 'beam' (the package importing itself, as an app would) resolves to the
  // sources through the "beam-source" export condition, so that the tests
  // need no build: see docs/embedding.md, "Install". NODE_OPTIONS carries
  // the condition to the Node processes that tests spawn (examples, app nodes).
  resolve: { conditions: [SOURCE_CONDITION, ...defaultClientConditions] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    env: { NODE_OPTIONS, ...GUARD_ENV },
    include: ['test/backends/ator/**/*.test.ts'],
    globalSetup: ['test/backends/ator/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    maxWorkers: 1,
    reporters: ['default']
  }
})
