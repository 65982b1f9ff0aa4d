import { describe, it, expect, afterAll } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// `npm run bench` in miniature: a tiny run (2 MiB, three scenarios, one
// round, SHA-256 of both transfers checked) must write a complete result
// file, and the report must be generated from it. No timing is asserted.

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
let dir = ''
afterAll(async () => { if (dir !== '') await rm(dir, { recursive: true, force: true }) })

async function run (args: string[], timeoutMs: number): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const t = setTimeout(() => { if (child.pid != null) process.kill(child.pid, 'SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => { child.on('exit', c => { resolve(c) }) })
  clearTimeout(t)
  return { code, stderr }
}

describe('npm run bench (smoke)', () => {
  it('writes a complete result file and a report from it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'beam-bench-smoke-'))
    const out = join(dir, 'tiny.json')
    const r = await run(['bench/run.ts', '--tiny', '--out', out], 110_000)
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(await readFile(out, 'utf8'))
    expect(doc.format).toBe('beam-bench/1')
    expect(doc.machine).toMatchObject({ cores: expect.any(Number), kernel: expect.any(String), node: expect.stringMatching(/^v\d+/), libp2p: expect.any(String) })
    expect(doc.machine.cpu).toEqual(expect.any(String))
    expect(doc.machine.packages['holesail-server']).toEqual(expect.any(String))
    expect(doc.settings).toMatchObject({ mode: 'tiny', rounds: 1, verify: true })
    expect(doc.rounds).toHaveLength(1)
    const names = doc.scenarios.map((s: { name: string }) => s.name)
    expect(names).toEqual(['raw-tcp', 'forwarder', 'beam-tcp'])
    for (const name of names) {
      const res = doc.rounds[0].results[name]
      expect(res, `${name}: ${JSON.stringify(res)}`).not.toHaveProperty('error')
      // the bytes arrived intact both ways (SHA-256 on the far side)
      expect(res.verified, name).toBe(true)
      expect(res.uploadMBps).toBeGreaterThan(0)
      expect(res.downloadMBps).toBeGreaterThan(0)
      expect(res.keepAlive).toMatchObject({ ok: 10, failed: 0 })
      expect(res.newConnection).toMatchObject({ ok: 10, failed: 0 })
      expect(res.concurrency).toMatchObject({ connections: 20, succeeded: 20, failed: 0 })
      expect(res.warmMs).toBeGreaterThan(0)
      const s = doc.summary[name]
      expect(s.rounds).toBe(1)
      expect(s.median.uploadMBps).toBe(res.uploadMBps)
      expect(s.ratio.uploadVsRaw).toBeGreaterThan(0)
    }
    const beam = doc.rounds[0].results['beam-tcp']
    expect(beam.path).toMatchObject({ transport: 'tcp', direct: true })
    expect(beam.coldMs).toBeGreaterThan(0)
    // and against a share on its default listen addresses (every interface, TCP and QUIC)
    expect(beam.coldDefaultMs).toBeGreaterThan(0)
    // next to a loopback-only cold start measured in the same slot, the figure it is compared with
    expect(beam.coldPairLoopbackMs).toBeGreaterThan(0)
    for (const role of ['share', 'connect']) {
      expect(beam.rssIdleMiB[role], role).toBeGreaterThan(0)
      expect(beam.rssLoadMiB[role], role).toBeGreaterThan(0)
      expect(beam.rssConcurrentMiB[role], role).toBeGreaterThan(0)
      expect(beam.cpuPerGiB[role], role).toBeGreaterThanOrEqual(0)
    }
    const md = join(dir, 'benchmarks.md')
    const svg = join(dir, 'benchmarks.svg')
    const rep = await run(['bench/report.ts', out, '--md', md, '--svg', svg], 30_000)
    expect(rep.code, rep.stderr).toBe(0)
    const text = await readFile(md, 'utf8')
    for (const label of ['raw TCP', 'two-hop Node forwarder', 'beam direct TCP', 'default listen addresses', 'measured beside it', 'Targets from the issue', 'Machine and versions']) expect(text).toContain(label)
    const chart = await readFile(svg, 'utf8')
    expect(chart).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/)
    expect(chart).toContain('beam direct TCP')
  }, 150_000)

  it('--only small: every small-request case through the forwarder and beam, with CPU per request and the ratio to the forwarder', async () => {
    dir = dir !== '' ? dir : await mkdtemp(join(tmpdir(), 'beam-bench-smoke-'))
    const out = join(dir, 'small.json')
    const r = await run(['bench/run.ts', '--only', 'small', '--tiny', '--scenarios', 'forwarder,beam-tcp', '--out', out], 110_000)
    expect(r.code, r.stderr).toBe(0)
    const doc = JSON.parse(await readFile(out, 'utf8'))
    expect(doc.format).toBe('beam-bench-small/1')
    expect(doc.rounds).toHaveLength(1)
    for (const name of ['forwarder', 'beam-tcp']) {
      for (const c of ['keepAlive', 'concurrent', 'pipelined', 'newConnection']) {
        // an echo that came back wrong or out of order is an error here
        const f = doc.rounds[0][name][c]
        expect(f, `${name} ${c}: ${JSON.stringify(f)}`).not.toHaveProperty('error')
        expect(f.requests).toBeGreaterThan(0)
        expect(f.cpuUsPerRequest.share).toBeGreaterThanOrEqual(0)
        expect(f.cpuUsPerRequest.connect).toBeGreaterThanOrEqual(0)
      }
    }
    expect(doc.summary['beam-tcp'].keepAlive.ratioToForwarder).toBeGreaterThan(0)
  }, 150_000)
})
