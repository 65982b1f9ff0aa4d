import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from 'vitest'
import { chromium } from 'playwright-core'
import { Gateway, GatewayRegistration, loadCertificateFiles, shareLabel } from '../../src/gateway/index.ts'
import { testNodes } from '../helpers/test-nodes.ts'
import type { GatewayRequestEvent } from '../../src/gateway/index.ts'
import { makeTestCertificate } from '../helpers/test-ca.ts'
import { need, suiteNeeds } from '../helpers/require-tools.ts'
import { startWebApp, DOWNLOAD_MIB } from '../helpers/web-app.ts'

// A real browser through the gateway: Debian's headless Chromium, driven by
// playwright-core, trusts the gateway's certificate by its key's hash (a
// throwaway CA made it), and resolves *.gw.test to 127.0.0.1 by its own
// host-resolver rule (every other name fails: no DNS query leaves). It opens
// https://<label>.gw.test:<port>/ of a shared web app whose page calls a JSON
// API, downloads 32 MiB and checks its SHA-256, echoes over a WebSocket and
// reads server-sent events. The screenshot is kept in test-artifacts/.

const CHROMIUM = '/usr/bin/chromium'
const hasOpenssl = ((): boolean => { try { execFileSync('openssl', ['version'], { stdio: 'pipe' }); return true } catch { return false } })()
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url))

const { cleanups, beam } = testNodes()

describe.skipIf(suiteNeeds('gateway browser test', need(existsSync(CHROMIUM) && hasOpenssl, 'chromium or openssl is missing (apt-get install chromium openssl)')))('a browser through beam gateway', () => {
  it('loads a shared web app over HTTPS: page, fetch API, 32 MiB download, WebSocket, server-sent events', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-gw-browser-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const ca = makeTestCertificate(dir, ['*.gw.test', 'gw.test'])
    const cert = await loadCertificateFiles(ca.certFile, ca.keyFile)
    const app = await startWebApp()
    cleanups.push(app.close)

    const gwNode = await beam()
    const gw = new Gateway({ node: gwNode, domain: 'gw.test', listen: { host: '127.0.0.1', port: 0 }, tls: { context: async () => cert.context } })
    await gw.start()
    cleanups.push(async () => { await gw.close() })
    const requests: GatewayRequestEvent[] = []
    gw.on('request', e => requests.push(e))

    const shareNode = await beam()
    await shareNode.share({ services: [{ port: app.port }], access: { mode: 'allow', peers: [] }, gateways: [gwNode.peerId.toString()] })
    const reg = new GatewayRegistration({ node: shareNode, gateway: { peerId: gwNode.peerId, multiaddrs: gwNode.getMultiaddrs() } })
    cleanups.push(async () => { reg.close() })
    const grant = await reg.start()
    const url = `https://${shareLabel(shareNode.peerId)}.gw.test:${gw.address.port}/`
    expect(grant.url).toBe(url)

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        `--host-resolver-rules=MAP *.gw.test 127.0.0.1, MAP * ~NOTFOUND`,
        `--ignore-certificate-errors-spki-list=${ca.spki}`,
        '--no-proxy-server',
        '--disable-background-networking',
        '--disable-component-update'
      ]
    })
    cleanups.push(async () => { await browser.close() })
    const page = await browser.newPage({ viewport: { width: 900, height: 500 } })
    await page.goto(url, { timeout: 30_000 })
    await page.waitForFunction(() => (document.getElementById('done')?.textContent ?? '') !== '', undefined, { timeout: 60_000 })
    await mkdir(ARTIFACTS, { recursive: true })
    const shot = join(ARTIFACTS, 'gateway-browser.png')
    await page.screenshot({ path: shot })
    expect((await stat(shot)).size).toBeGreaterThan(1000)

    expect(await page.textContent('#done')).toBe('all done')
    expect(await page.textContent('#api')).toBe('hello from the API / 127.0.0.1')
    expect(await page.textContent('#download')).toMatch(new RegExp(`^${DOWNLOAD_MIB * 1024 * 1024} bytes sha256 ${app.downloadSha256} in \\d+ ms$`))
    expect(await page.textContent('#websocket')).toBe('hello over beam')
    expect(await page.textContent('#sse')).toBe('event-1,event-2,event-3')

    // the browser spoke HTTP/2 (ALPN) for requests, HTTP/1.1 for the WebSocket upgrade
    expect(requests.find(r => r.path === '/')?.httpVersion).toBe('2.0')
    expect(requests.find(r => r.path === '/ws')?.status).toBe(101)
    expect(requests.find(r => r.path === '/download')?.bytesOut).toBe(DOWNLOAD_MIB * 1024 * 1024)
    expect(app.lastApiHeaders()['x-forwarded-proto']).toBe('https')
  }, 120_000)
})
