import { createHash } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, request as httpRequest } from 'node:http'
import type { Server } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect as http2Connect } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import type { AddressInfo, Socket } from 'node:net'
import { describe, it, expect, beforeAll } from 'vitest'
import { CertificateFiles, Gateway, GatewayRegistration, TlsConfigError, loadCertificateFiles, shareLabel } from '../../src/gateway/index.ts'
import { testNodes } from '../helpers/test-nodes.ts'
import type { LoadedCertificate } from '../../src/gateway/index.ts'
import { makeTestCertificate } from '../helpers/test-ca.ts'
import type { TestCertificate } from '../helpers/test-ca.ts'
import { need, suiteNeeds } from '../helpers/require-tools.ts'
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'

// The gateway over HTTPS with a wildcard certificate from files (made by a
// throwaway CA): HTTP/2 by ALPN, HTTP/1.1 with WebSocket-style upgrades, the
// plain HTTP listener's redirect, and bad certificate files.

const hasOpenssl = ((): boolean => { try { execFileSync('openssl', ['version'], { stdio: 'pipe' }); return true } catch { return false } })()

const DOMAIN = 'gw.test'
const { cleanups, beam } = testNodes()

let dir = ''
let ca: TestCertificate
let cert: LoadedCertificate
beforeAll(async () => {
  if (!hasOpenssl) return
  dir = await mkdtemp(join(tmpdir(), 'beam-gw-tls-'))
  ca = makeTestCertificate(dir, [`*.${DOMAIN}`, DOMAIN])
  cert = await loadCertificateFiles(ca.certFile, ca.keyFile)
  return async () => { await rm(dir, { recursive: true, force: true }) }
})

async function app (): Promise<number> {
  const server: Server = createServer((req, res) => {
    if (req.method === 'POST') {
      // the body as the share's service got it, and how it was framed
      const h = createHash('sha256')
      let bytes = 0
      req.on('data', (c: Buffer) => { h.update(c); bytes += c.length })
      req.on('end', () => { res.end(JSON.stringify({ sha256: h.digest('hex'), bytes, framing: req.headers['transfer-encoding'] ?? `length ${req.headers['content-length'] ?? '-'}` })) })
      return
    }
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ url: req.url, proto: req.headers['x-forwarded-proto'], host: req.headers.host }))
  })
  server.on('upgrade', (_req, socket: Socket) => {
    socket.on('error', () => {})
    socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: echo\r\nconnection: upgrade\r\n\r\n')
    socket.pipe(socket)
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  cleanups.push(async () => { server.closeAllConnections(); await new Promise(resolve => { server.close(resolve) }) })
  return (server.address() as AddressInfo).port
}

async function setup (): Promise<{ gw: Gateway, label: string }> {
  const gwNode = await beam()
  const gw = new Gateway({ node: gwNode, domain: DOMAIN, listen: { host: '127.0.0.1', port: 0 }, httpListen: { host: '127.0.0.1', port: 0 }, tls: { context: async () => cert.context } })
  await gw.start()
  cleanups.push(async () => { await gw.close() })
  const shareNode = await beam()
  await shareNode.share({ services: [{ port: await app() }], access: { mode: 'allow', peers: [] }, gateways: [gwNode.peerId.toString()] })
  const reg = new GatewayRegistration({ node: shareNode, gateway: { peerId: gwNode.peerId, multiaddrs: gwNode.getMultiaddrs() } })
  cleanups.push(async () => { reg.close() })
  await reg.start()
  return { gw, label: shareLabel(shareNode.peerId) }
}

describe.skipIf(suiteNeeds('gateway TLS tests', need(hasOpenssl, 'openssl is missing (apt-get install openssl)')))('beam gateway over HTTPS (certificate from files)', () => {
  it('speaks HTTP/2 by ALPN and HTTP/1.1 to clients without it, with the share\'s URL on https', async () => {
    const { gw, label } = await setup()
    const host = `${label}.${DOMAIN}`
    expect(gw.url(label)).toBe(`https://${host}:${gw.address.port}/`)

    const h2 = http2Connect(`https://${host}:${gw.address.port}`, { createConnection: () => tlsConnect({ host: '127.0.0.1', port: gw.address.port, servername: host, ca: ca.ca, ALPNProtocols: ['h2'] }) })
    cleanups.push(async () => { h2.close() })
    const body2 = await new Promise<{ status: number, body: string, alpn: string | false | undefined }>((resolve, reject) => {
      const s = h2.request({ ':path': '/two', ':authority': `${host}:${gw.address.port}` })
      let status = 0
      let body = ''
      s.on('response', h => { status = Number(h[':status']) })
      s.setEncoding('utf8').on('data', (c: string) => { body += c })
      s.on('end', () => { resolve({ status, body, alpn: h2.alpnProtocol }) })
      s.on('error', reject)
      s.end()
    })
    expect(body2.alpn).toBe('h2')
    expect(body2.status).toBe(200)
    expect(JSON.parse(body2.body)).toEqual({ url: '/two', proto: 'https', host: `${host}:${gw.address.port}` })

    // HTTP/2 request bodies reach the service whole: as their content-length says, else chunked
    const parts = [Buffer.alloc(200_000, 4), Buffer.alloc(1, 5), Buffer.alloc(123_456, 6)]
    const whole = Buffer.concat(parts)
    const sha256 = createHash('sha256').update(whole).digest('hex')
    for (const withLength of [true, false]) {
      const got = await new Promise<string>((resolve, reject) => {
        const s = h2.request({ ':method': 'POST', ':path': '/up', ':authority': `${host}:${gw.address.port}`, ...(withLength ? { 'content-length': String(whole.length) } : {}) })
        let body = ''
        s.setEncoding('utf8').on('data', (c: string) => { body += c })
        s.on('end', () => { resolve(body) })
        s.on('error', reject)
        for (const p of parts) s.write(p)
        s.end()
      })
      expect(JSON.parse(got)).toEqual({ sha256, bytes: whole.length, framing: withLength ? `length ${whole.length}` : 'chunked' })
    }

    const body1 = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: gw.address.port, servername: host, ca: ca.ca, path: '/one', headers: { host } }, res => {
        let body = ''
        res.setEncoding('utf8').on('data', (c: string) => { body += c })
        res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      req.end()
    })
    expect(body1.status).toBe(200)
    expect(JSON.parse(body1.body).url).toBe('/one')

    const echoed = await new Promise<string>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port: gw.address.port, servername: host, ca: ca.ca, path: '/ws', headers: { host, connection: 'upgrade', upgrade: 'echo' } })
      req.on('upgrade', (_res, socket: Socket) => {
        let got = ''
        socket.on('data', (c: Buffer) => { got += c.toString(); if (got.length >= 4) { socket.destroy(); resolve(got) } })
        socket.write('ping')
      })
      req.on('error', reject)
      req.end()
    })
    expect(echoed).toBe('ping')
  })

  it('redirects plain HTTP to the same URL on HTTPS', async () => {
    const { gw, label } = await setup()
    const http = gw.httpAddress
    expect(http).toBeDefined()
    const res = await new Promise<{ status: number, location: string | undefined }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: http?.port ?? 0, path: '/a?b=1', headers: { host: `${label}.${DOMAIN}` } }, r => { r.resume(); resolve({ status: r.statusCode ?? 0, location: r.headers.location }) })
      req.on('error', reject)
      req.end()
    })
    expect(res.status).toBe(308)
    expect(res.location).toBe(`https://${label}.${DOMAIN}:${gw.address.port}/a?b=1`)
  })

  it('serves a certificate renewed on disk without a restart, and keeps the old one while the new files do not match', async () => {
    const live = join(dir, 'live')
    await mkdir(live, { recursive: true })
    const certFile = join(live, 'fullchain.pem')
    const keyFile = join(live, 'privkey.pem')
    await copyFile(ca.certFile, certFile)
    await copyFile(ca.keyFile, keyFile)
    const files = await CertificateFiles.load({ certFile, keyFile, interval: 100 })
    cleanups.push(async () => { files.close() })
    files.watch()
    const gw = new Gateway({ node: await beam(), domain: DOMAIN, listen: { host: '127.0.0.1', port: 0 }, tls: { context: async () => files.current.context } })
    await gw.start()
    cleanups.push(async () => { await gw.close() })
    const served = async (): Promise<string> => await new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: gw.address.port, servername: `x.${DOMAIN}`, rejectUnauthorized: false }, () => {
        const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? ''
        socket.destroy()
        resolve(fp)
      })
      socket.on('error', reject)
    })
    const event = async (name: 'reloaded' | 'reload-failed'): Promise<void> => {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => { reject(new Error(`no ${name} event in 10 s`)) }, 10_000)
        const done = (): void => { clearTimeout(t); resolve() }
        if (name === 'reloaded') files.once('reloaded', done)
        else files.once('reload-failed', done)
      })
    }
    const first = await served()
    expect(first).toBe(new X509Certificate(await readFile(ca.certFile)).fingerprint256)

    // a renewal (new key, new certificate), the key written first: that pair does not match until the certificate follows
    const renewed = makeTestCertificate(await mkdtemp(join(dir, 'renewed-')), [`*.${DOMAIN}`, DOMAIN])
    const failed = event('reload-failed')
    await copyFile(renewed.keyFile, keyFile)
    await failed
    expect(await served()).toBe(first)
    const reloaded = event('reloaded')
    await copyFile(renewed.certFile, certFile)
    await reloaded
    const second = await served()
    expect(second).not.toBe(first)
    expect(second).toBe(new X509Certificate(await readFile(renewed.certFile)).fingerprint256)
  })

  it('says in one line what is wrong with a certificate file', async () => {
    await expect(loadCertificateFiles(join(dir, 'missing.pem'), ca.keyFile)).rejects.toThrow(new TlsConfigError(`cannot read the certificate file ${join(dir, 'missing.pem')}: no such file`))
    await writeFile(join(dir, 'junk.pem'), 'not a certificate\n')
    await expect(loadCertificateFiles(join(dir, 'junk.pem'), ca.keyFile)).rejects.toThrow(/is not a PEM certificate/)
    // the CA's key is not the leaf's
    await expect(loadCertificateFiles(ca.certFile, join(dir, 'ca.key'))).rejects.toThrow(/the key does not belong to the certificate/)
  })
})
