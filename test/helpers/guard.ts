/**
 * The test-wide guard against the public network (docs/internet.md, "Running
 * fully private"): an empty bootstrap list instead of the public peers that
 * bootstrap-nodes.json ships, and no public STUN server. The vitest configs
 * put it into the environment of every test worker, so every process a test
 * spawns inherits it; an in-process CLI run (runCli) gets its environment
 * from the test, so it must spread guardEnv() into it
 * (test/unit/test-guard.test.ts checks both).
 */
import { fileURLToPath } from 'node:url'

/** The empty bootstrap list every test uses. */
export const EMPTY_BOOTSTRAP_FILE = fileURLToPath(new URL('../fixtures/bootstrap-none.json', import.meta.url))

/** The variables of the guard. */
export function guardEnv (): { BEAM_BOOTSTRAP_FILE: string, BEAM_NO_PUBLIC_STUN: string } {
  return { BEAM_BOOTSTRAP_FILE: EMPTY_BOOTSTRAP_FILE, BEAM_NO_PUBLIC_STUN: '1' }
}
