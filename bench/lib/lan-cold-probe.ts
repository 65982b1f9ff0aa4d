/**
 * One cold start, run inside a lab host by bench/lan-cold.ts: spawn
 * `<beam checkout>/bin/beam.js connect <cs> <args> --port P`, poll the local
 * port until an HTTP answer's first byte arrives, kill the connector by its
 * PID. Prints {"event":"done","ms","cpuMs","transport"} (the transport of the
 * connector's first path) or {"event":"error","message"}.
 *
 *   node bench/lib/lan-cold-probe.ts <beam checkout> <connect string> [beam args...]
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cpuSeconds } from './procs.ts'
import { firstByte } from './load.ts'
import { freePort } from './scenarios.ts'

const [root, cs, ...args] = process.argv.slice(2)
const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }
const home = mkdtempSync(join(tmpdir(), 'beam-lan-cold-'))
const port = await freePort()
const start = performance.now()
const child = spawn(process.execPath, [join(root ?? '.', 'bin', 'beam.js'), 'connect', cs ?? '', ...args, '--port', String(port), '--json'], { env: { ...process.env, BEAM_HOME: home }, stdio: ['ignore', 'pipe', 'ignore'] })
let transport: string | undefined
let buf = ''
child.stdout?.setEncoding('utf8').on('data', (d: string) => {
  buf += d
  for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
    const line = buf.slice(0, i)
    buf = buf.slice(i + 1)
    try {
      const e = JSON.parse(line) as { event?: string, transport?: string }
      if (e.event === 'path' && transport == null) transport = e.transport
    } catch {}
  }
})
try {
  await firstByte(port, 30_000)
  const ms = performance.now() - start
  const cpuMs = (cpuSeconds(child.pid ?? 0) ?? NaN) * 1000
  // the path event follows the first connection; give it a moment
  for (let i = 0; i < 40 && transport == null; i++) await new Promise(resolve => setTimeout(resolve, 25))
  print({ event: 'done', ms, cpuMs, transport })
} catch (err) {
  print({ event: 'error', message: (err as Error).message })
} finally {
  try { process.kill(child.pid ?? 0, 'SIGKILL') } catch {}
  await new Promise(resolve => setTimeout(resolve, 200))
  rmSync(home, { recursive: true, force: true })
}
