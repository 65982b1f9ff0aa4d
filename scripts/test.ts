/**
 * `npm test`: every test stage of beam, in order, under one time budget (see
 * scripts/test-runner.ts). Prints `stage <name>: <seconds> s` after each
 * stage and the total at the end; stops at the first failing stage; fails
 * when the total passes BEAM_TEST_BUDGET_S seconds (default 3600, one hour).
 *
 * Usage: node scripts/test.ts [stage…]   (no stage: all; --list: the stages)
 * Exit: 0 all passed; 1 a stage failed or the budget was passed; 2 bad usage.
 */
import { fileURLToPath } from 'node:url'
import { delimiter, join } from 'node:path'
import { runStages } from './test-runner.ts'
import type { Stage } from './test-runner.ts'

/** @default 3600 (one hour: the whole CI run, .ci/run, must fit in it) */
export const DEFAULT_BUDGET_S = 3600

/** Suites that build a network of their own (NAT lab, Tor, I2P, ATOR): their own stages, below. */
const NETWORK_SUITES = ['test/lab/**', 'test/backends/**']

export const STAGES: Stage[] = [
  // Debian tools and ATOR's anon for the network suites (fails under CI when it cannot install)
  { name: 'test-deps', cmd: ['bash', 'scripts/install-test-deps.sh'] },
  { name: 'typecheck', cmd: ['npm', 'run', '--silent', 'typecheck'] },
  { name: 'snippets', cmd: ['npm', 'run', '--silent', 'check:snippets'] },
  { name: 'api-docs', cmd: ['npm', 'run', '--silent', 'docs:api', '--', '--check'] },
  { name: 'main', cmd: ['vitest', 'run', ...NETWORK_SUITES.flatMap(g => ['--exclude', g])] },
  // the I2P network beside the mostly idle 130-second relayed-session test
  { name: 'i2p+relay-long', cmd: ['vitest', 'run', 'test/backends/i2p', 'test/lab/relay-long'] },
  // one lab file at a time: two simulated networks on 2 cores starve each other's timers
  { name: 'lab', cmd: ['vitest', 'run', '--maxWorkers=1', 'test/lab/nat-traversal', 'test/lab/internet', 'test/lab/address-change', 'test/lab/lan-dial', 'test/lab/gateway', 'test/lab/hole-punch', 'test/lab/benchmark', 'test/lab/netlab', 'test/lab/lab-public-cidrs'] },
  { name: 'tor', cmd: ['vitest', 'run', '--config', 'vitest.tor.config.ts', 'test/backends/tor'] },
  { name: 'ator', cmd: ['vitest', 'run', '--config', 'vitest.ator.config.ts', 'test/backends/ator'] }
]

function budgetFrom (env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.BEAM_TEST_BUDGET_S
  if (raw == null || raw === '') return DEFAULT_BUDGET_S
  const n = Number(raw)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

async function main (argv: string[]): Promise<number> {
  if (argv.includes('--list')) {
    for (const s of STAGES) process.stdout.write(`${s.name}: ${s.cmd.join(' ')}\n`)
    return 0
  }
  const unknown = argv.filter(a => !STAGES.some(s => s.name === a))
  if (unknown.length > 0) {
    process.stderr.write(`test: unknown stage ${unknown.join(', ')} (stages: ${STAGES.map(s => s.name).join(', ')})\n`)
    return 2
  }
  const budgetS = budgetFrom(process.env)
  if (budgetS == null) {
    process.stderr.write(`test: BEAM_TEST_BUDGET_S must be a positive number of seconds (got '${process.env.BEAM_TEST_BUDGET_S ?? ''}')\n`)
    return 2
  }
  const root = fileURLToPath(new URL('..', import.meta.url))
  // the project's own Node and vitest first, as npm scripts have them
  const env = { ...process.env, PATH: [join(root, 'node_modules', '.bin'), process.env.PATH ?? ''].join(delimiter) }
  const stages = argv.length === 0 ? STAGES : STAGES.filter(s => argv.includes(s.name))
  const result = await runStages(stages, { budgetS, env, cwd: root })
  return result.ok ? 0 : 1
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2))
}
