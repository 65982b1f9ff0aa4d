import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { AddressInfo } from 'node:net'
import { describe, it, expect } from 'vitest'
import { AcmeCertificates, AcmeError, Gateway, GatewayRegistration, shareLabel } from '../../src/gateway/index.ts'
import { testNodes } from '../helpers/test-nodes.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'
import { freePort, pebbleNeed, startPebble } from '../helpers/pebble.ts'

// Certificates from a real ACME CA on loopback: pebble validates HTTP-01
// against the gateway's plain HTTP listener (PEBBLE_VA_ALWAYS_VALID unset),
// with pebble-challtestsrv as its DNS. Two shares' names get certificates on
// their first TLS handshake; with a 20 s validity, both are renewed.

const DOMAIN = 'gw.test'
const { cleanups, beam } = testNodes()

async function app (text: string): Promise<number> {
  const server: Server = createServer((_req, res) => { res.end(text) })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  cleanups.push(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return (server.address() as AddressInfo).port
}

/** GET https://host:port/ through 127.0.0.1, trusting only `ca`; the body and the certificate served. */
async function fetchTls (port: number, host: string, ca: string): Promise<{ body: string, cert: X509Certificate }> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, servername: host, headers: { host }, ca, agent: false, timeout: 20_000 }, res => {
      let body = ''
      const raw = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().raw
      res.setEncoding('utf8').on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ body, cert: new X509Certificate(raw) }) })
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', reject)
    req.end()
  })
}

describe.skipIf(suiteNeeds('gateway ACME tests', pebbleNeed()))('beam gateway with ACME (pebble on loopback)', () => {
  it('gets real certificates for two shares\' names on first request and renews them before expiry', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-gw-acme-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const httpPort = await freePort()
    const pebble = await startPebble(join(dir, 'pebble'), { httpPort, validitySeconds: 20 })
    cleanups.push(pebble.stop)
    const issued: Array<{ name: string, renewal: boolean }> = []
    const acme = new AcmeCertificates({ directoryUrl: pebble.directoryUrl, email: 'ops@gw.test', dir: join(dir, 'acme'), serverCa: pebble.serverCa, renewCheck: 1000 }, { onIssued: e => issued.push(e) })
    await acme.start()
    cleanups.push(async () => { acme.stop() })

    const gwNode = await beam()
    let gw: Gateway | undefined
    gw = new Gateway({
      node: gwNode,
      domain: DOMAIN,
      listen: { host: '127.0.0.1', port: 0 },
      httpListen: { host: '127.0.0.1', port: httpPort },
      tls: { context: async name => gw?.servesHost(name) === true ? await acme.context(name) : undefined },
      acmeChallenge: token => acme.challenge(token)
    })
    await gw.start()
    const g = gw
    cleanups.push(async () => { await g.close() })

    const hosts: string[] = []
    for (const [i, name] of [[0, undefined], [1, 'myapp']] as const) {
      const node = await beam()
      await node.share({ services: [{ port: await app(`share ${i}`) }], access: { mode: 'allow', peers: [] }, gateways: [gwNode.peerId.toString()] })
      const reg = new GatewayRegistration({ node, gateway: { peerId: gwNode.peerId, multiaddrs: gwNode.getMultiaddrs() }, name })
      cleanups.push(async () => { reg.close() })
      await reg.start()
      hosts.push(name != null ? `${name}.${DOMAIN}` : `${shareLabel(node.peerId)}.${DOMAIN}`)
    }
    for (const h of hosts) await pebble.addHost(h)

    // the first handshake for each name makes the gateway ask pebble, which validates over HTTP-01
    const first = await Promise.all(hosts.map(async h => await fetchTls(g.address.port, h, pebble.root)))
    expect(first.map(f => f.body)).toEqual(['share 0', 'share 1'])
    for (const [i, f] of first.entries()) {
      expect(f.cert.checkHost(hosts[i] ?? '')).toBe(hosts[i])
      expect(f.cert.issuer).toContain('Pebble Intermediate CA')
    }
    expect(issued.filter(e => !e.renewal).map(e => e.name).sort()).toEqual([...hosts].sort())
    // cached on disk, with its key
    expect(await readFile(join(dir, 'acme', `${hosts[1] ?? ''}.pem`), 'utf8')).toContain('PRIVATE KEY')

    // a name no registered share owns gets no certificate: the handshake fails, pebble is not asked
    await pebble.addHost(`stranger.${DOMAIN}`)
    await expect(fetchTls(g.address.port, `stranger.${DOMAIN}`, pebble.root)).rejects.toThrow()
    expect(issued.some(e => e.name === `stranger.${DOMAIN}`)).toBe(false)

    // 20 s certificates are due at a third of their lifetime left: renewed in the background, served to new handshakes
    const deadline = Date.now() + 30_000
    while (Date.now() < deadline && !hosts.every(h => issued.some(e => e.name === h && e.renewal))) await new Promise(resolve => setTimeout(resolve, 250))
    expect(issued.filter(e => e.renewal).map(e => e.name)).toEqual(expect.arrayContaining(hosts))
    const after = await fetchTls(g.address.port, hosts[1] ?? '', pebble.root)
    expect(after.body).toBe('share 1')
    expect(after.cert.serialNumber).not.toBe(first[1]?.cert.serialNumber)
  }, 90_000)

  it('says in one line that the ACME server cannot be reached', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-gw-acme-'))
    cleanups.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const port = await freePort()
    const acme = new AcmeCertificates({ directoryUrl: `https://localhost:${port}/dir`, dir })
    const err = await acme.start().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(AcmeError)
    expect((err as Error).message).toBe(`cannot reach the ACME server at https://localhost:${port}/dir: connect ECONNREFUSED 127.0.0.1:${port}`)
  })
})
