/**
 * Memory after load: a share's memory returns to its idle size once the
 * transfers are over (issue 24). Real `beam share` and `beam connect`
 * processes on loopback; the share reports its memory on SIGUSR2 (a `memory`
 * event). RSS is not asserted (it depends on glibc's heap and the machine;
 * docs/performance.md, "Memory after load", has those figures): what is
 * asserted is that the JS heap and the ArrayBuffers the transfers allocated
 * come back, with a bound on waiting for it, not on its speed.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { startShare, startConnect, tempHome } from '../helpers/beam.ts'
import type { BeamEvent, BeamProcess } from '../helpers/beam.ts'
import { startHttpService, httpGet, expectedHash } from '../helpers/services.ts'
import type { TestHttp } from '../helpers/services.ts'

const MiB = 1024 * 1024

interface Memory { rss: number, heapUsed: number, arrayBuffers: number }

async function memoryOf (proc: BeamProcess): Promise<Memory> {
  const from = proc.events.length
  proc.child.kill('SIGUSR2')
  const e: BeamEvent = await proc.waitFor('memory', 10_000, () => true, from)
  return { rss: Number(e.rss), heapUsed: Number(e.heapUsed), arrayBuffers: Number(e.arrayBuffers) }
}

describe('memory after load', () => {
  let http: TestHttp
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let share: BeamProcess
  let connect: BeamProcess
  let port = 0

  beforeAll(async () => {
    http = await startHttpService()
    shareHome = await tempHome()
    connectHome = await tempHome()
    const quiet = { BEAM_LOG_LEVEL: 'warn' }
    const s = await startShare([String(http.port), '--ephemeral'], shareHome.dir, quiet)
    share = s.proc
    const c = await startConnect(s.connect, ['--ephemeral'], connectHome.dir, quiet)
    connect = c.proc
    port = c.port
  })

  afterAll(async () => {
    await connect?.stop()
    await share?.stop()
    await http?.close()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('cuts small Buffers from 8 KiB slabs, not Node 24\'s 64 KiB ones (a long-lived small buffer keeps its slab)', { timeout: 30_000 }, async () => {
    const from = share.events.length
    share.child.kill('SIGUSR2')
    const e = await share.waitFor('memory', 10_000, () => true, from)
    expect(e.bufferPoolSize).toBe(8 * 1024)
  })

  it('a share\'s JS heap and ArrayBuffers return to their idle size after five 64 MiB downloads', { timeout: 240_000 }, async () => {
    // one small request first: the tunnel's own set-up is not load
    expect((await httpGet(port, '/download?mib=1&seed=1')).sha256).toBe(expectedHash(1, 1))
    const idle = await memoryOf(share)
    for (let i = 0; i < 5; i++) {
      const r = await httpGet(port, `/download?mib=64&seed=${i + 2}`)
      expect(r.sha256).toBe(expectedHash(i + 2, 64))
    }
    const loaded = await memoryOf(share)
    // the process is idle now: poll for at most 40 s (the collector looks every 5 s)
    let after = loaded
    for (let i = 0; i < 40; i++) {
      if (after.arrayBuffers <= 2 * MiB && after.heapUsed + after.arrayBuffers <= idle.heapUsed + idle.arrayBuffers + 4 * MiB) break
      await new Promise(resolve => setTimeout(resolve, 1000))
      after = await memoryOf(share)
    }
    const mib = (m: Memory): string => `heapUsed ${(m.heapUsed / MiB).toFixed(1)} MiB, arrayBuffers ${(m.arrayBuffers / MiB).toFixed(1)} MiB, rss ${(m.rss / MiB).toFixed(1)} MiB`
    const summary = `idle: ${mib(idle)}; right after the downloads: ${mib(loaded)}; then: ${mib(after)}`
    expect(after.arrayBuffers, summary).toBeLessThanOrEqual(2 * MiB)
    expect(after.heapUsed + after.arrayBuffers, summary).toBeLessThanOrEqual(idle.heapUsed + idle.arrayBuffers + 4 * MiB)
  })
})
