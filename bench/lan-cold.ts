/**
 * Cold start of `beam connect` against a share on *another host* of the
 * same network segment, the share on its default listen addresses (TCP and
 * QUIC on every interface): the default path across a LAN, which the
 * benchmark (everything on one machine) does not cover. Two public hosts of
 * the NAT lab (test/lab/netlab.ts: network namespaces on a bridge; root
 * only), one share on host a; `beam connect` spawned on host b again and
 * again, spawn → first byte of an HTTP answer through it, with its CPU time.
 * Builds given with --build are measured alternately against the same share
 * (A/B: e.g. a worktree of an older commit with its own `npm run build`).
 *
 *   node bench/lan-cold.ts [--samples N (8)] [--build DIR]... [--out FILE]
 *
 * Each DIR is a beam checkout (bin/beam.js; its dist/bundle when built);
 * default: this checkout. Offline: no bootstrap node, explicit ICE servers.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { createLab } from '../test/lab/netlab.ts'
import { JsonLines } from '../test/lab/udp-reflector.ts'
import { LAB_HTTP } from '../test/lab/lab-http.ts'
import { median } from './lib/stats.ts'

const { values } = parseArgs({ options: { samples: { type: 'string' }, build: { type: 'string', multiple: true }, out: { type: 'string' } } })
const samples = Number(values.samples ?? 8)
const builds = values.build ?? [fileURLToPath(new URL('..', import.meta.url))]
const PROBE = fileURLToPath(new URL('./lib/lan-cold-probe.ts', import.meta.url))
const offline = ['--no-default-bootstrap', '--ephemeral', '--ice-server', 'stun:127.0.0.1:9']
const env = { BEAM_NO_PUBLIC_STUN: '1', BEAM_LOG_LEVEL: 'warn' }

const lab = await createLab({ hosts: [{ name: 'a' }, { name: 'b' }] })
try {
  const svc = new JsonLines(lab.spawn('a', [process.execPath, LAB_HTTP, 'serve']))
  const port = Number((await svc.waitFor(l => l.event === 'ready', 20_000)).port)
  const shareHome = (await lab.exec('a', ['mktemp', '-d'])).stdout.trim()
  const share = new JsonLines(lab.spawn('a', [process.execPath, `${builds[0] ?? ''}/bin/beam.js`, 'share', String(port), ...offline, '--json'], { env: { ...env, BEAM_HOME: shareHome } }))
  const cs = String((await share.waitFor(l => l.event === 'ready', 30_000)).connect)
  const out: Record<string, Array<{ ms: number, cpuMs: number, transport: string }>> = Object.fromEntries(builds.map(b => [b, []]))
  for (let i = 0; i < samples; i++) {
    const order = i % 2 === 0 ? builds : [...builds].reverse()
    for (const b of order) {
      const probe = new JsonLines(lab.spawn('b', [process.execPath, PROBE, b, cs, ...offline], { env }))
      const r = await probe.waitFor(l => l.event === 'done' || l.event === 'error', 60_000)
      if (r.event !== 'done') throw new Error(`${b}: ${JSON.stringify(r)}`)
      out[b]?.push({ ms: Number(r.ms), cpuMs: Number(r.cpuMs), transport: String(r.transport) })
      process.stdout.write(`sample ${i + 1} ${b}: ${Number(r.ms).toFixed(0)} ms, CPU ${String(r.cpuMs)} ms, first path ${String(r.transport)}\n`)
    }
  }
  const summary = Object.fromEntries(builds.map(b => [b, { ms: median((out[b] ?? []).map(x => x.ms)), cpuMs: median((out[b] ?? []).map(x => x.cpuMs)), quicFirst: (out[b] ?? []).filter(x => x.transport === 'quic').length }]))
  for (const [b, m] of Object.entries(summary)) process.stdout.write(`median ${b}: ${m.ms.toFixed(0)} ms, CPU ${m.cpuMs.toFixed(0)} ms (${samples} samples; first path QUIC in ${m.quicFirst})\n`)
  if (values.out != null) writeFileSync(values.out, JSON.stringify({ samples: out, median: summary }, null, 2) + '\n')
  await lab.exec('a', ['rm', '-rf', shareHome])
} finally {
  await lab.teardown()
}
