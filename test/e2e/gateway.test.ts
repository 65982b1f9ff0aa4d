import { createServer, request } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { existsSync } from 'node:fs'
import { describe, it, expect, afterEach } from 'vitest'
import { chromium } from 'playwright-core'
import { BeamProcess, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { freePort } from '../helpers/pebble.ts'
import { need, suiteNeeds } from '../helpers/require-tools.ts'

// `beam gateway` and `beam share --gateway` as processes on loopback: the
// URL in the banner and ready event, a visitor's request, and the one-line
// errors with their own exit codes.

const CHROMIUM = '/usr/bin/chromium'
// the dashboard part of the visitor test (the rest runs without a browser)
const noBrowser = suiteNeeds('the gateway visitors\' dashboard check', need(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt install chromium; scripts/install-test-deps.sh does it)`))

const cleanups: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

async function home (): Promise<string> {
  const h = await tempHome()
  cleanups.push(h.cleanup)
  return h.dir
}

async function startGateway (args: string[] = [], env: Record<string, string> = {}): Promise<{ proc: BeamProcess, port: number, gatewayFlag: string, ready: Record<string, unknown> }> {
  const proc = new BeamProcess(['gateway', '--domain', 'gw.test', '--listen', '127.0.0.1:0', '--p2p-listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', ...args, '--json'], { BEAM_HOME: await home(), ...env })
  cleanups.push(async () => { await proc.stop() })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, port: Number(String(ready.listen).split(':').pop()), gatewayFlag: String(ready.shareFlag).replace('--gateway ', ''), ready }
}

async function get (port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host, ...headers }, signal: AbortSignal.timeout(15_000) }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('error', reject)
    req.end()
  })
}

describe('beam gateway (processes)', () => {
  it('gives a share that opts in a URL in its banner and ready event, and serves it there', async () => {
    const server: Server = createServer((_req, res) => { res.end('web app') })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(async () => { await new Promise(resolve => { server.close(resolve) }) })
    const appPort = (server.address() as AddressInfo).port
    const gw = await startGateway()
    const { proc, ready } = await startShare([String(appPort), '--gateway', gw.gatewayFlag, '--name', 'webapp', '--no-dht'], await home())
    cleanups.push(async () => { await proc.stop() })
    expect(ready.url).toBe(`http://webapp.gw.test:${gw.port}/`)
    expect((ready.gateway as { url: string }).url).toMatch(new RegExp(`^http://k51[0-9a-z]{59}\\.gw\\.test:${gw.port}/$`))
    expect(await get(gw.port, 'webapp.gw.test')).toEqual({ status: 200, body: 'web app' })
    await gw.proc.waitFor('share-registered')

    // the name is taken for any other key
    const taken = await runBeam(['share', String(appPort), '--gateway', gw.gatewayFlag, '--name', 'webapp', '--no-dht', '--listen', '/ip4/127.0.0.1/tcp/0', ...OFFLINE], { BEAM_HOME: await home() })
    expect(taken.code).toBe(18)
    expect(taken.stderr.trim().split('\n').pop()).toBe("beam: the name 'webapp' is taken on this gateway by another share; pick another --name, or run the share with the identity that claimed it")
  }, 60_000)

  it('reports visitor requests to the share: beam status shows them by status class with their latency', async () => {
    const server: Server = createServer((req, res) => {
      res.statusCode = req.url === '/missing' ? 404 : req.url === '/boom' ? 500 : 200
      res.end('x')
    })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(async () => { await new Promise(resolve => { server.close(resolve) }) })
    const appPort = (server.address() as AddressInfo).port
    const gw = await startGateway()
    const shareHome = await home()
    const { proc, ready } = await startShare([String(appPort), '--gateway', gw.gatewayFlag, '--name', 'visits', '--no-dht'], shareHome)
    cleanups.push(async () => { await proc.stop() })
    expect(ready.url).toBe(`http://visits.gw.test:${gw.port}/`)
    const statuses = []
    for (const path of ['/', '/', '/missing', '/boom']) statuses.push((await get(gw.port, 'visits.gw.test', path)).status)
    expect(statuses).toEqual([200, 200, 404, 500])
    // the gateway reports once a second: wait for all four (bounded)
    type Gw = { url: string, state: string, requests: number, statusClasses: Record<string, number>, latency: { p50Ms: number, p99Ms: number, maxMs: number } | null, bytesOut: number }
    let gateway: Gw | null = null
    for (let i = 0; i < 20 && (gateway?.requests ?? 0) < 4; i++) {
      await new Promise(resolve => setTimeout(resolve, 500))
      const r = await runBeam(['status', '--json'], { BEAM_HOME: shareHome })
      expect(r.code, r.stderr).toBe(0)
      gateway = (JSON.parse(r.stdout) as { processes: Array<{ pid: number, gateway: Gw | null }> }).processes.find(p => p.pid === proc.child.pid)?.gateway ?? null
    }
    expect(gateway).toMatchObject({ url: `http://visits.gw.test:${gw.port}/`, state: 'registered', requests: 4, statusClasses: { '1xx': 0, '2xx': 2, '3xx': 0, '4xx': 1, '5xx': 1 } })
    expect(gateway?.latency?.maxMs).toBeGreaterThan(0)
    expect(gateway?.latency?.p50Ms).toBeLessThanOrEqual(gateway?.latency?.p99Ms ?? 0)
    const human = await runBeam(['status'], { BEAM_HOME: shareHome })
    expect(human.stdout).toContain(`  web:       http://visits.gw.test:${gw.port}/\n`)
    expect(human.stdout).toMatch(/ {2}visitors: {2}4 request\(s\) \(2 2xx, 1 4xx, 1 5xx\); latency p50 [\d.]+ ms, p99 [\d.]+ ms/)

    // the share's dashboard page shows them too
    if (noBrowser) return
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })
    cleanups.push(async () => { await browser.close() })
    const page = await browser.newPage()
    await page.goto(String(ready.dashboard))
    await page.waitForSelector(`section.process[data-pid="${proc.child.pid ?? 0}"] .gateway:not([hidden]) dd[data-field="gw-requests"]`, { timeout: 20_000 })
    const card = `section.process[data-pid="${proc.child.pid ?? 0}"]`
    expect(await page.textContent(`${card} .gw-link`)).toBe(`http://visits.gw.test:${gw.port}/`)
    expect(await page.textContent(`${card} dd[data-field="gw-requests"]`)).toBe('4')
    expect(await page.textContent(`${card} dd[data-field="gw-status"]`)).toBe('2 × 2xx, 1 × 4xx, 1 × 5xx')
  }, 90_000)

  it('beam up NAME serves a tunnel through the gateway its config entry names, with its short name and visitor sign-in', async () => {
    const server: Server = createServer((_req, res) => { res.end('from the config') })
    await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
    cleanups.push(async () => { await new Promise(resolve => { server.close(resolve) }) })
    const appPort = (server.address() as AddressInfo).port
    const gw = await startGateway()
    const shareHome = await home()
    const cfg = join(shareHome, 'beam.config.yaml')
    await writeFile(cfg, `tunnels:\n  site:\n    port: ${appPort}\n    gateway: ${gw.gatewayFlag}\n    gatewayName: fromcfg\n    httpAuth: "alice:s3cret"\n`)
    const proc = new BeamProcess(['up', 'site', '--config', cfg, '--listen', '/ip4/127.0.0.1/tcp/0', '--no-dht', ...OFFLINE, '--json', '--ephemeral'], { BEAM_HOME: shareHome })
    cleanups.push(async () => { await proc.stop() })
    const ready = await proc.waitFor('ready', 30_000)
    expect(ready.url).toBe(`http://fromcfg.gw.test:${gw.port}/`)
    expect((await get(gw.port, 'fromcfg.gw.test')).status).toBe(401)
    expect(await get(gw.port, 'fromcfg.gw.test', '/', { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` })).toEqual({ status: 200, body: 'from the config' })
  }, 60_000)

  it('runs with a 16 MiB young generation (same PID re-executed), and with V8\'s default when BEAM_GATEWAY_HEAP=default', async () => {
    const flagsOf = (ready: Record<string, unknown>): string[] => (ready.runtime as { flags?: string[] } | undefined)?.flags ?? []
    const tuned = await startGateway()
    expect(flagsOf(tuned.ready)).toContain('--min-semi-space-size=16')
    const plain = await startGateway([], { BEAM_GATEWAY_HEAP: 'default' })
    expect(plain.ready.runtime).toBeDefined()
    expect(flagsOf(plain.ready)).not.toContain('--min-semi-space-size=16')
  })

  it('answers bad input with one line and its own exit code', async () => {
    const h = await home()
    const noDomain = await runBeam(['gateway', '--listen', '127.0.0.1:0'], { BEAM_HOME: h })
    expect(noDomain.code).toBe(2)
    expect(noDomain.stderr.trim()).toBe('beam: beam gateway needs --domain (e.g. --domain gw.example.org)')

    const badCert = await runBeam(['gateway', '--domain', 'gw.test', '--listen', '127.0.0.1:0', '--tls-cert', join(h, 'nope.pem'), '--tls-key', join(h, 'nope.key')], { BEAM_HOME: h })
    expect(badCert.code).toBe(19)
    expect(badCert.stderr.trim()).toBe(`beam: cannot read the certificate file ${join(h, 'nope.pem')}: no such file`)

    const port = await freePort()
    const noAcme = await runBeam(['gateway', '--domain', 'gw.test', '--listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--acme-directory', `https://localhost:${port}/dir`, ...OFFLINE, '--no-dht'], { BEAM_HOME: h })
    expect(noAcme.code).toBe(20)
    expect(noAcme.stderr.trim().split('\n').pop()).toBe(`beam: cannot reach the ACME server at https://localhost:${port}/dir: connect ECONNREFUSED 127.0.0.1:${port}`)

    const httpOnly = await runBeam(['share', '3000', '--http', ...OFFLINE], { BEAM_HOME: h, BEAM_GATEWAY: '' })
    expect(httpOnly.code).toBe(2)
    expect(httpOnly.stderr.trim()).toBe('beam: --http needs a gateway: set BEAM_GATEWAY to its address, or pass --gateway <address>')

    const badName = await runBeam(['share', '3000', '--gateway', '12D3KooWDZGfpCEVmnwxeEWnzm51GccS5mi86JfM2DDtkwsbNjeM', '--name', 'www', ...OFFLINE], { BEAM_HOME: h })
    expect(badName.code).toBe(2)
    expect(badName.stderr.trim()).toBe("beam: 'www' is reserved on gateways")
  }, 60_000)
})
