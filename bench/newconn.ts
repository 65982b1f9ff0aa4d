/**
 * Dev tool: what one new tunnel connection costs. Starts the bench service and
 * one scenario (beam-tcp by default), makes N sequential new-connection HTTP
 * requests through it and prints the p50/p99 and the CPU milliseconds per
 * request of each tunnel process (from /proc). Loopback only.
 *
 *   node bench/newconn.ts [--scenario beam-tcp] [--requests 1000] [--keep-alive]
 *                         [--cpu-prof DIR]   (V8 CPU profiles of the beam processes)
 */
import { parseArgs } from 'node:util'
import { latency } from './lib/load.ts'
import { cpuSeconds, killAll, profileBeamInto, script } from './lib/procs.ts'
import { startScenario } from './lib/scenarios.ts'
import type { Infra, ScenarioName } from './lib/scenarios.ts'

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'beam-tcp' },
    requests: { type: 'string', default: '1000' },
    'keep-alive': { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' }
  }
})
if (values['cpu-prof'] != null) profileBeamInto(values['cpu-prof'])
const service = script('service', 'service.ts')
try {
  const servicePort = Number((await service.waitFor('ready', 20_000)).port)
  const infra: Infra = { servicePort, hyperdhtBootstrap: '', warmNode: async () => { throw new Error('no warm node here') } }
  const run = await startScenario(values.scenario as ScenarioName, infra)
  try {
    await latency(run.port, 50, values['keep-alive'], { timeoutMs: 30_000 })
    const procs = Object.entries(run.procs)
    const before = procs.map(([, p]) => cpuSeconds(p.child.pid ?? 0) ?? 0)
    const n = Number(values.requests)
    const r = await latency(run.port, n, values['keep-alive'], { timeoutMs: 120_000 })
    const after = procs.map(([, p]) => cpuSeconds(p.child.pid ?? 0) ?? 0)
    const cpu = procs.map(([role], i) => `${role} ${(((after[i] ?? 0) - (before[i] ?? 0)) * 1000 / r.ok).toFixed(3)}`).join(', ')
    console.log(`${values.scenario} ${values['keep-alive'] ? 'keep-alive' : 'new connection'}: ${r.ok} ok, ${r.failed} failed, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms; CPU ms per request: ${cpu}`)
  } finally {
    await run.teardown()
  }
} finally {
  await service.stop()
  killAll()
}
