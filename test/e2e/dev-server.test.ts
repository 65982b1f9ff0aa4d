/**
 * `beam share` with no port: it finds the one dev server answering on
 * loopback and says which and why; it refuses none or several. The usual
 * ports (5173, 3000, …) may be taken on a test machine, so the candidates
 * are free ports given with BEAM_DEV_PORTS; the servers are real HTTP servers
 * answering as Vite and Next.js do.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterEach, describe, expect, it } from 'vitest'
import { BeamProcess, LOOPBACK_LISTEN, OFFLINE, runBeam, startConnect, tempHome } from '../helpers/beam.ts'
import { freePort, httpGet } from '../helpers/services.ts'

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c().catch(() => {}) })

/** An HTTP server on `host`:`port` answering every request with `html` (and `headers`). */
async function fakeDevServer (host: string, port: number, html: string, headers: Record<string, string> = {}): Promise<Server> {
  const server = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html', ...headers }); res.end(html) })
  await new Promise<void>(resolve => server.listen(port, host, resolve))
  cleanups.push(async () => { await new Promise<void>(resolve => { server.close(() => { resolve() }) }) })
  return server
}

const VITE_PAGE = '<!doctype html><html><head><script type="module" src="/@vite/client"></script></head><body><div id="app">vite page</div></body></html>'

describe('beam share with no port', () => {
  it('shares the one dev server it finds, says which and why, and the tunnel reaches it', async () => {
    const [a, b] = [await freePort(), await freePort()]
    await fakeDevServer('127.0.0.1', b, VITE_PAGE)
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const share = new BeamProcess(['share', ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: home.dir, BEAM_DEV_PORTS: `${a},${b}` })
    cleanups.push(async () => { await share.stop() })
    const picked = await share.waitFor('dev-server', 30_000)
    expect(picked.service).toBe(String(b))
    expect(String(picked.why)).toContain(`127.0.0.1:${b} (Vite, by its answer to GET /)`)
    const ready = await share.waitFor('ready', 30_000)
    expect(ready.ports).toEqual([b])
    const other = await tempHome()
    cleanups.push(other.cleanup)
    const c = await startConnect(String(ready.connect), [], other.dir)
    cleanups.push(async () => { await c.proc.stop() })
    const got = await httpGet(c.port, '/')
    expect(got.body).toContain('vite page')
  }, 90_000)

  it('finds a server listening on ::1 only (Node\'s localhost) and shares [::1]:PORT', async () => {
    const port = await freePort()
    try {
      await fakeDevServer('::1', port, '<html>next</html><script id="__NEXT_DATA__"></script>', { 'x-powered-by': 'Next.js' })
    } catch {
      return // no IPv6 loopback on this machine: nothing to test
    }
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const share = new BeamProcess(['share', ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: home.dir, BEAM_DEV_PORTS: String(port) })
    cleanups.push(async () => { await share.stop() })
    const picked = await share.waitFor('dev-server', 30_000)
    expect(picked.service).toBe(`[::1]:${port}`)
    expect(String(picked.why)).toContain('Next.js')
  }, 60_000)

  it('refuses several servers and none, each with one line naming the ports, exit 2', async () => {
    const [a, b, c] = [await freePort(), await freePort(), await freePort()]
    await fakeDevServer('127.0.0.1', a, VITE_PAGE)
    await fakeDevServer('127.0.0.1', b, 'plain page')
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const several = await runBeam(['share', ...OFFLINE], { BEAM_HOME: home.dir, BEAM_DEV_PORTS: `${a},${b},${c}` })
    expect(several.code).toBe(2)
    const lines = several.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(new RegExp(`several servers answer.*127\\.0\\.0\\.1:${a} \\(Vite.*127\\.0\\.0\\.1:${b} \\(answers HTTP`))
    const none = await runBeam(['share', ...OFFLINE], { BEAM_HOME: home.dir, BEAM_DEV_PORTS: String(c) })
    expect(none.code).toBe(2)
    expect(none.stderr.trim().split('\n')).toHaveLength(1)
    expect(none.stderr).toContain(`no dev server answers on loopback at the usual ports (${c})`)
    const bad = await runBeam(['share', ...OFFLINE], { BEAM_HOME: home.dir, BEAM_DEV_PORTS: 'x' })
    expect(bad.code).toBe(3)
  }, 60_000)
})
