import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, writeFile } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { makeTestCertificate } from './test-ca.ts'
import { need } from './require-tools.ts'
import type { Need } from './require-tools.ts'

/**
 * A real ACME CA on loopback: Debian's pebble, with pebble-challtestsrv as
 * its DNS server (names it is told about resolve to 127.0.0.1, nothing else
 * is asked of any resolver). Pebble validates HTTP-01 for real: it fetches
 * http://<name>:<httpPort>/.well-known/acme-challenge/<token> from 127.0.0.1.
 * PEBBLE_VA_ALWAYS_VALID is never set.
 */

export function pebbleNeed (): Need {
  return need(existsSync('/usr/bin/pebble') && existsSync('/usr/bin/pebble-challtestsrv'), 'pebble and pebble-challtestsrv are missing (apt-get install pebble)')
}

/** A free TCP port on 127.0.0.1 (closed again at once). */
export async function freePort (): Promise<number> {
  const s = createServer()
  await new Promise<void>(resolve => { s.listen(0, '127.0.0.1', resolve) })
  const port = (s.address() as AddressInfo).port
  await new Promise(resolve => { s.close(resolve) })
  return port
}

export interface Pebble {
  /** The ACME directory URL. */
  directoryUrl: string
  /** PEM of the CA that signed pebble's own HTTPS certificate (trust it to talk to pebble). */
  serverCa: string
  /** PEM of pebble's root: the issued certificates chain to it. */
  root: string
  /** Make `host` resolve to 127.0.0.1 for pebble (challtestsrv's add-a). */
  addHost: (host: string) => Promise<void>
  /** What pebble printed. */
  log: () => string
  stop: () => Promise<void>
}

async function get (url: string, ca: string): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, timeout: 5000 }, res => {
      let body = ''
      res.setEncoding('utf8').on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
    })
    req.on('timeout', () => { req.destroy(new Error('timeout')) })
    req.on('error', reject)
    req.end()
  })
}

function stopChild (c: ChildProcess): Promise<void> {
  return new Promise(resolve => {
    if (c.exitCode != null || c.signalCode != null) { resolve(); return }
    c.once('exit', () => { resolve() })
    c.kill('SIGTERM')
    setTimeout(() => { c.kill('SIGKILL') }, 3000).unref()
  })
}

/** Start challtestsrv and pebble in `dir`; `httpPort` is where pebble validates HTTP-01 (the gateway's plain HTTP port). */
export async function startPebble (dir: string, options: { httpPort: number, validitySeconds?: number }): Promise<Pebble> {
  await mkdir(join(dir, 'tls'), { recursive: true })
  const tls = makeTestCertificate(join(dir, 'tls'), ['localhost'])
  const [acmePort, mgmtPort, dnsPort, challMgmtPort] = [await freePort(), await freePort(), await freePort(), await freePort()]
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${acmePort}`,
      managementListenAddress: `127.0.0.1:${mgmtPort}`,
      certificate: tls.certFile,
      privateKey: tls.keyFile,
      httpPort: options.httpPort,
      tlsPort: await freePort(),
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(options.validitySeconds != null ? { certificateValidityPeriod: options.validitySeconds } : {})
    }
  }
  const cfgFile = join(dir, 'pebble-config.json')
  await writeFile(cfgFile, JSON.stringify(config, null, 2))
  let log = ''
  const chall = spawn('/usr/bin/pebble-challtestsrv', [
    '-dns01', `127.0.0.1:${dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
    '-management', `127.0.0.1:${challMgmtPort}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  chall.stdout?.on('data', (c: Buffer) => { log += c.toString() })
  chall.stderr?.on('data', (c: Buffer) => { log += c.toString() })
  const env: Record<string, string | undefined> = { ...process.env, PEBBLE_VA_NOSLEEP: '1' }
  delete env.PEBBLE_VA_ALWAYS_VALID
  const pebble = spawn('/usr/bin/pebble', ['-config', cfgFile, '-dnsserver', `127.0.0.1:${dnsPort}`], { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: dir })
  pebble.stdout?.on('data', (c: Buffer) => { log += c.toString() })
  pebble.stderr?.on('data', (c: Buffer) => { log += c.toString() })
  const stop = async (): Promise<void> => { await Promise.all([stopChild(pebble), stopChild(chall)]) }
  const directoryUrl = `https://localhost:${acmePort}/dir`
  const deadline = Date.now() + 20_000
  for (;;) {
    const ok = await get(directoryUrl, tls.ca).then(r => r.status === 200, () => false)
    if (ok) break
    if (Date.now() > deadline || pebble.exitCode != null) { await stop(); throw new Error(`pebble did not start:\n${log}`) }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  const root = (await get(`https://localhost:${mgmtPort}/roots/0`, tls.ca)).body
  const addHost = async (host: string): Promise<void> => {
    await new Promise<void>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port: challMgmtPort, path: '/add-a', method: 'POST', timeout: 5000 }, res => { res.resume(); res.statusCode === 200 ? resolve() : reject(new Error(`add-a answered ${res.statusCode ?? '?'}`)) })
      req.on('error', reject)
      req.end(JSON.stringify({ host: host.endsWith('.') ? host : `${host}.`, addresses: ['127.0.0.1'] }))
    })
  }
  return { directoryUrl, serverCa: tls.ca, root, addHost, log: () => log, stop }
}
