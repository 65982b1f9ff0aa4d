import { existsSync, mkdirSync } from 'node:fs'
import { request } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'
import { fileURLToPath } from 'node:url'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { chromium } from 'playwright-core'
import type { Browser, Page } from 'playwright-core'
import jsqrModule from 'jsqr'
import { BeamProcess, runBeam, startShare, startConnect, tempHome, OFFLINE } from '../helpers/beam.ts'
import { startTcpService, tcpConnect } from '../helpers/services.ts'
import { need, suiteNeeds } from '../helpers/require-tools.ts'

// The dashboard at /_beam through the real CLI and a real browser: a share
// and a connect on 127.0.0.1 serve their pages; headless Chromium (Debian's,
// driven by playwright-core) watches a tunnel appear and its byte counters
// rise while bytes flow, decodes the QR code to the connect string; plain
// HTTP requests without the token, with a wrong one, or with a foreign Host
// or Origin are refused. Screenshots go to test-artifacts/ (git-ignored).

const CHROMIUM = '/usr/bin/chromium'
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))
const skip = suiteNeeds('dashboard browser tests', need(existsSync(CHROMIUM), `${CHROMIUM} is missing (apt install chromium; scripts/install-test-deps.sh does it)`))
const URL_RE = /^http:\/\/127\.0\.0\.1:(\d+)\/_beam\/\?token=([A-Za-z0-9_-]{43})$/

// jsqr is a UMD bundle whose types declare an ES default export: take the function wherever it is
type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null
const jsqrExports = jsqrModule as unknown as { default?: Decode }
const jsQR = (typeof jsqrExports === 'function' ? jsqrExports : jsqrExports.default) as Decode

interface Reply { status: number, headers: IncomingHttpHeaders, body: string }

/** A plain HTTP GET to 127.0.0.1:port with exactly these headers. */
async function get (port: number, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers }, timeout: 10_000 }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body }) })
    })
    req.on('error', reject)
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.end()
  })
}

function parse (url: unknown): { port: number, token: string } {
  const m = URL_RE.exec(String(url))
  expect(m, String(url)).not.toBeNull()
  return { port: Number(m?.[1]), token: m?.[2] ?? '' }
}

/** The share card's tunnel row: open count and bytes received, or null while there is none. */
async function shareRow (page: Page, pid: number): Promise<{ open: number, received: number } | null> {
  return await page.evaluate((p) => {
    const row = document.querySelector(`section.process[data-pid="${p}"] .tunnels tbody tr`)
    if (row == null) return null
    const open = Number(row.querySelector('[data-field="open"]')?.textContent)
    const received = Number(row.querySelector('[data-field="received"]')?.getAttribute('data-bytes'))
    return { open, received }
  }, pid)
}

describe.skipIf(skip)('the dashboard at /_beam', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  let echo: Awaited<ReturnType<typeof startTcpService>>
  let share: Awaited<ReturnType<typeof startShare>>
  let conn: Awaited<ReturnType<typeof startConnect>>
  let browser: Browser
  const others: BeamProcess[] = []

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    home = await tempHome()
    echo = await startTcpService(s => { s.pipe(s) })
    share = await startShare([String(echo.port), '--name', 'web'], home.dir)
    conn = await startConnect(share.connect, [], home.dir)
    // as root (containers, CI) Chromium runs only without its sandbox
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: process.getuid?.() === 0 ? ['--no-sandbox'] : [] })
  }, 120_000)
  afterAll(async () => {
    await browser?.close().catch(() => {})
    for (const p of [conn?.proc, share?.proc, ...others]) await p?.stop().catch(() => {})
    await echo?.close()
    await home?.cleanup()
  })

  it('the ready and listening events and beam status --json carry the URL with its token', async () => {
    const s = parse(share.ready.dashboard)
    const c = parse(conn.proc.events.find(e => e.event === 'listening')?.dashboard)
    expect(s.port).not.toBe(c.port)
    expect(s.token).not.toBe(c.token)
    const r = await runBeam(['status', '--json'], { BEAM_HOME: home.dir })
    expect(r.code, r.stderr).toBe(0)
    const processes = (JSON.parse(r.stdout) as { processes: Array<{ pid: number, dashboard: string | null }> }).processes
    expect(processes.find(p => p.pid === share.proc.child.pid)?.dashboard).toBe(share.ready.dashboard)
    expect(processes.find(p => p.pid === conn.proc.child.pid)?.dashboard).toBe(conn.proc.events.find(e => e.event === 'listening')?.dashboard)
    const human = await runBeam(['status', 'web'], { BEAM_HOME: home.dir })
    expect(human.stdout).toContain(`  dashboard: ${String(share.ready.dashboard)}\n`)
  }, 60_000)

  it('refuses requests without the token, with a wrong one, and with a foreign Host or Origin', async () => {
    const { port, token } = parse(share.ready.dashboard)
    const cookie = `beam_dashboard_${port}=${token}`
    const wrong = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A')
    for (const path of ['/_beam/', '/_beam/events', '/_beam/api/status', '/_beam/app.js', '/_beam/qr.svg?pid=1', '/']) {
      const r = await get(port, path)
      expect(r.status, path).toBe(401)
      expect(r.body).not.toContain(token)
    }
    expect((await get(port, `/_beam/?token=${wrong}`)).status).toBe(401)
    expect((await get(port, '/_beam/api/status', { cookie: `beam_dashboard_${port}=${wrong}` })).status).toBe(401)
    // another port's cookie is not this dashboard's
    expect((await get(port, '/_beam/api/status', { cookie: `beam_dashboard_1=${token}` })).status).toBe(401)
    // DNS rebinding: a page of evil.example that resolves to 127.0.0.1 sends its own name as Host
    expect((await get(port, `/_beam/?token=${token}`, { host: `evil.example:${port}` })).status).toBe(403)
    expect((await get(port, '/_beam/api/status', { host: `evil.example:${port}`, cookie })).status).toBe(403)
    expect((await get(port, '/_beam/api/status', { host: '127.0.0.1', cookie })).status).toBe(403)
    expect((await get(port, '/_beam/api/status', { cookie, origin: 'http://evil.example' })).status).toBe(403)
    expect((await get(port, '/_beam/api/status', { cookie, origin: `http://127.0.0.1:${port + 1}` })).status).toBe(403)

    // the token in the URL becomes a cookie and leaves the address
    const first = await get(port, `/_beam/?token=${token}`)
    expect(first.status).toBe(303)
    expect(first.headers.location).toBe('/_beam/')
    expect(String(first.headers['set-cookie'])).toMatch(new RegExp(`^beam_dashboard_${port}=${token}; HttpOnly; SameSite=Strict; Path=/_beam$`))
    const ok = await get(port, '/_beam/api/status', { cookie, origin: `http://127.0.0.1:${port}` })
    expect(ok.status).toBe(200)
    expect(ok.headers['content-security-policy']).toMatch(/^default-src 'self'/)
    expect((await get(port, '/_beam/', { host: `localhost:${port}`, cookie })).status).toBe(200)
  }, 60_000)

  it('Chromium sees a tunnel appear and its bytes rise during a transfer, and decodes the QR code', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } })
    const page = await context.newPage()
    const sharePid = share.proc.child.pid ?? 0
    try {
      await page.goto(String(share.ready.dashboard))
      // the token left the address bar for a cookie
      expect(page.url()).toMatch(/\/_beam\/$/)
      await page.waitForSelector(`section.process[data-pid="${sharePid}"]`, { timeout: 20_000 })
      await page.waitForSelector('#live.on', { timeout: 20_000 })
      expect(await shareRow(page, sharePid)).toBeNull()

      // the connect string, and its QR code decoded from the image the page shows
      expect(await page.inputValue('.connect-text')).toBe(share.connect)
      await page.waitForFunction(() => { const img = document.querySelector<HTMLImageElement>('img.qr'); return img != null && img.complete && img.naturalWidth > 0 }, undefined, { timeout: 20_000 })
      // drawn at 5 pixels per module or so, and sent back as base64 (a plain array of 4 bytes a pixel is slow to pass)
      const pixels = await page.evaluate(() => {
        const img = document.querySelector<HTMLImageElement>('img.qr')
        if (img == null) throw new Error('no QR image')
        const size = 300
        const canvas = document.createElement('canvas')
        canvas.width = size
        canvas.height = size
        const g = canvas.getContext('2d')
        if (g == null) throw new Error('no 2d context')
        g.drawImage(img, 0, 0, size, size)
        const data = g.getImageData(0, 0, size, size).data
        let bin = ''
        for (let i = 0; i < data.length; i += 8192) bin += String.fromCharCode(...data.subarray(i, i + 8192))
        return { width: size, height: size, base64: btoa(bin) }
      })
      const qr = jsQR(new Uint8ClampedArray(Buffer.from(pixels.base64, 'base64')), pixels.width, pixels.height)
      expect(qr?.data).toBe(share.connect)

      // a transfer through the tunnel, paced so that it lasts several ticks of the page
      const sock = await tcpConnect(conn.port)
      sock.on('data', () => {})
      let writes = 0
      const chunk = Buffer.alloc(64 * 1024, 7)
      const pacer = setInterval(() => { if (writes++ < 300) sock.write(chunk) }, 50)
      try {
        const seen: number[] = []
        const deadline = Date.now() + 30_000
        while (seen.length < 3 && Date.now() < deadline) {
          const row = await shareRow(page, sharePid)
          if (row != null && row.open === 1 && row.received > (seen.at(-1) ?? 0)) seen.push(row.received)
          await page.waitForTimeout(400)
        }
        // three readings, each higher than the one before, while the connection is open
        expect(seen.length, `received bytes seen: ${seen.join(', ')}`).toBe(3)
        await page.screenshot({ path: `${ARTIFACTS}dashboard-share.png`, fullPage: true })
      } finally {
        clearInterval(pacer)
        sock.destroy()
      }
      // throughput drawn as a line
      expect(await page.locator(`section.process[data-pid="${sharePid}"] .chart polyline`).count()).toBe(2)
    } finally {
      await context.close()
    }
  }, 90_000)

  it('is readable on a phone: no sideways scrolling at 390 px', async () => {
    const context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true })
    const page = await context.newPage()
    try {
      await page.goto(String(conn.proc.events.find(e => e.event === 'listening')?.dashboard))
      await page.waitForSelector('section.process .tunnels tbody tr', { timeout: 20_000 })
      const widths = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth }))
      expect(widths.scroll).toBeLessThanOrEqual(widths.inner)
      await page.screenshot({ path: `${ARTIFACTS}dashboard-phone.png`, fullPage: true })
    } finally {
      await context.close()
    }
  }, 60_000)

  it('beam dashboard shows every process of the home on one page', async () => {
    const proc = new BeamProcess(['dashboard', '--json'], { BEAM_HOME: home.dir })
    others.push(proc)
    const ev = await proc.waitFor('dashboard', 30_000)
    const { port } = parse(ev.url)
    expect((await get(port, '/_beam/')).status).toBe(401)
    const context = await browser.newContext()
    const page = await context.newPage()
    try {
      await page.goto(String(ev.url))
      for (const pid of [share.proc.child.pid, conn.proc.child.pid]) await page.waitForSelector(`section.process[data-pid="${pid}"]`, { timeout: 20_000 })
      // the share's connect string comes through its control socket
      expect(await page.inputValue(`section.process[data-pid="${share.proc.child.pid}"] .connect-text`)).toBe(share.connect)
      expect(await page.locator(`section.process[data-pid="${conn.proc.child.pid}"] .connect`).isHidden()).toBe(true)
      await page.waitForFunction(() => document.querySelectorAll('#logs li').length > 0, undefined, { timeout: 20_000 })
      await page.screenshot({ path: `${ARTIFACTS}dashboard-home.png`, fullPage: true })
    } finally {
      await context.close()
      await proc.stop('SIGINT')
    }
    expect(proc.child.exitCode).toBe(0)
  }, 60_000)

  it('--no-dashboard serves none; a --dashboard port that is not a port exits 3, one in use exits 5', async () => {
    const quiet = await startConnect(share.connect, ['--no-dashboard'], home.dir)
    others.push(quiet.proc)
    expect(quiet.proc.events.find(e => e.event === 'listening')?.dashboard).toBeNull()
    await quiet.proc.stop()
    const bad = await runBeam(['connect', share.connect, '--dashboard', '70000', ...OFFLINE], { BEAM_HOME: home.dir })
    expect(bad.code, bad.stderr).toBe(3)
    expect(bad.stderr.trim()).toMatch(/^beam: invalid --dashboard port '70000'/)
    const taken = await startTcpService(s => { s.destroy() })
    try {
      const busy = await runBeam(['connect', share.connect, '--dashboard', String(taken.port), ...OFFLINE], { BEAM_HOME: home.dir })
      expect(busy.code, busy.stderr).toBe(5)
      expect(busy.stderr.trim().split('\n').at(-1)).toBe(`beam: the dashboard's port 127.0.0.1:${taken.port} is already in use`)
    } finally {
      await taken.close()
    }
  }, 60_000)
})

// `dashboard:` in beam.config.yaml, set with `beam config set`: no browser needed.
describe('the dashboard from beam.config.yaml', () => {
  let home: Awaited<ReturnType<typeof tempHome>>
  let echo: Awaited<ReturnType<typeof startTcpService>>
  const procs: BeamProcess[] = []
  beforeAll(async () => {
    home = await tempHome()
    echo = await startTcpService(s => { s.pipe(s) })
  })
  afterAll(async () => {
    for (const p of procs) await p.stop().catch(() => {})
    await echo?.close()
    await home?.cleanup()
  })

  it('dashboard: false turns it off everywhere, a tunnel\'s port pins it for beam up, a flag wins; bad values exit 7', async () => {
    const env = { BEAM_HOME: home.dir }
    const free = await startTcpService(s => { s.destroy() })
    const pinned = free.port
    await free.close()
    for (const [key, value] of [['dashboard', 'false'], ['tunnels.web.port', String(echo.port)], ['tunnels.web.dashboard', String(pinned)]]) {
      const r = await runBeam(['config', 'set', key ?? '', value ?? ''], env)
      expect(r.code, r.stderr).toBe(0)
    }
    for (const [key, value, msg] of [['dashboard', 'maybe', /dashboard: expected true, false or a port \(1-65535\), got 'maybe'/], ['tunnels.web.dashboard', '0', /tunnels\.web\.dashboard: 0 is not a port \(1-65535\)/]] as const) {
      const r = await runBeam(['config', 'set', key, value], env)
      expect(r.code, r.stderr).toBe(7)
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1)
      expect(r.stderr).toMatch(msg)
    }
    expect((await runBeam(['config', 'get', 'dashboard'], env)).stdout).toBe('false\n')

    const off = await startShare([String(echo.port), '--ephemeral'], home.dir)
    procs.push(off.proc)
    expect(off.ready.dashboard).toBeNull()
    const conn = await startConnect(off.connect, [], home.dir)
    procs.push(conn.proc)
    expect(conn.proc.events.find(e => e.event === 'listening')?.dashboard).toBeNull()
    const on = await startConnect(off.connect, ['--dashboard'], home.dir)
    procs.push(on.proc)
    parse(on.proc.events.find(e => e.event === 'listening')?.dashboard)
    for (const p of [on.proc, conn.proc, off.proc]) await p.stop()

    const up = new BeamProcess(['up', 'web', '--ephemeral', '--listen', '/ip4/127.0.0.1/tcp/0', ...OFFLINE, '--json'], env)
    procs.push(up)
    const ready = await up.waitFor('ready', 30_000)
    expect(parse(ready.dashboard).port).toBe(pinned)
    expect((await get(pinned, '/_beam/')).status).toBe(401)
    await up.stop()
  }, 120_000)
})
