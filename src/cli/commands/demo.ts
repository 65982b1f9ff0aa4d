import { createHash, randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { Command } from 'commander'
import { createBeam, newAccessSecret } from '../../peer/index.ts'
import { hostPort } from '../../tunnel/index.ts'
import type { BeamNode, PathInfo } from '../../peer/index.ts'
import { addOutputOptions, createContext, untilAborted } from '../context.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { stopWithin } from '../shutdown.ts'

interface DemoFlags extends CommonFlags {
  keep?: boolean
  mib?: string
}

/**
 * `beam demo`: everything on this machine, nothing else contacted. A small
 * HTTP service is shared by one beam node and reached by another through the
 * tunnel; a download is checked by SHA-256.
 */
export function demoCommand (io: CliIo): Command {
  const cmd = new Command('demo')
    .description('share a built-in web service and fetch it through a beam tunnel, all on this machine')
    .option('--keep', 'keep the tunnel open afterwards and print its URL (Ctrl-C to stop)')
    .option('--mib <n>', 'size of the checked download in MiB', '16')
  addOutputOptions(cmd, 'warn')
  cmd.action(async (flags: DemoFlags) => { await runDemo(flags, io) })
  return cmd
}

async function runDemo (flags: DemoFlags, io: CliIo): Promise<void> {
  const ctx = createContext(flags, io)
  const mib = Math.max(1, Math.min(1024, Number(flags.mib ?? '16') || 16))
  const payload = randomBytes(1024 * 1024)
  // node:http is imported where it is used: importing it at the top would
  // load Node's undici in every beam command (see docs/performance.md)
  const { createServer } = await import('node:http')
  const server = createServer((req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(mib * payload.length) })
      let sent = 0
      const more = (): void => {
        while (sent < mib) {
          sent++
          if (!res.write(payload)) { res.once('drain', more); return }
        }
        res.end()
      }
      more()
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('hello from the beam demo service\n')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const servicePort = (server.address() as AddressInfo).port
  const expected = createHash('sha256')
  for (let i = 0; i < mib; i++) expected.update(payload)
  const expectedHash = expected.digest('hex')

  const nodes: BeamNode[] = []
  try {
    ctx.out.say(`1. demo web service on 127.0.0.1:${servicePort}`)
    const sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1'], logger: ctx.log.child({ node: 'share' }) })
    nodes.push(sharer)
    const secret = newAccessSecret()
    await sharer.share({ services: [{ port: servicePort }], access: { mode: 'secret', secret } })
    const connect = sharer.connectString(secret)
    ctx.out.say(`2. shared by peer ${sharer.peerId.toString()}`)
    ctx.out.say(`   connect string: ${connect}`)
    ctx.out.event('ready', { peerId: sharer.peerId.toString(), connect, multiaddrs: sharer.getMultiaddrs().map(m => m.toString()) })

    const connector = await createBeam({ logger: ctx.log.child({ node: 'connect' }) })
    nodes.push(connector)
    const started = performance.now()
    const tunnel = await connector.connect(connect, { signal: AbortSignal.timeout(30_000) })
    const path = tunnel.path ?? await new Promise<PathInfo>(resolve => tunnel.once('path', resolve))
    ctx.out.say(`3. peer ${connector.peerId.toString()} connected in ${Math.round(performance.now() - started)} ms: ${path.direct ? 'direct' : 'relayed'} over ${path.transport}${path.rttMs != null ? `, rtt ${path.rttMs} ms` : ''}`)
    ctx.out.event('listening', { host: tunnel.host, port: tunnel.port })
    ctx.out.event('path', { direct: path.direct, transport: path.transport, remote: path.remote, rttMs: path.rttMs ?? null })

    const hello = await get(tunnel.port, '/')
    ctx.out.say(`4. GET http://${hostPort(tunnel.host, tunnel.port)}/ through the tunnel: ${hello.body.toString().trim()}`)
    const t0 = performance.now()
    const dl = await get(tunnel.port, '/download')
    const secs = (performance.now() - t0) / 1000
    const ok = dl.hash === expectedHash
    ctx.out.say(`5. downloaded ${mib} MiB in ${secs.toFixed(2)} s (${(mib * 1.048576 / secs).toFixed(0)} MB/s), sha256 ${ok ? 'matches' : 'DOES NOT MATCH'}`)
    ctx.out.event('demo', { ok, mib, seconds: Number(secs.toFixed(3)), sha256: dl.hash })
    if (!ok) throw new Error('demo download corrupted: sha256 mismatch')
    if (flags.keep === true) {
      ctx.out.say(`\nthe tunnel stays open: http://${hostPort(tunnel.host, tunnel.port)}/  (Ctrl-C to stop)`)
      await untilAborted(io.signal)
    } else {
      ctx.out.say('\nbeam works on this machine. Next: `npx beam share <port>` here, `npx beam connect <connect string>` there.')
    }
  } finally {
    for (const n of nodes.reverse()) await stopWithin(n, ctx.log)
    server.closeAllConnections()
    server.close()
  }
}

async function get (port: number, path: string): Promise<{ body: Buffer, hash: string }> {
  const { request } = await import('node:http')
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 60_000 }, res => {
      const h = createHash('sha256')
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (c: Buffer) => {
        h.update(c)
        if (size < 4096) { chunks.push(c); size += c.length }
      })
      res.on('end', () => { resolve({ body: Buffer.concat(chunks), hash: h.digest('hex') }) })
      res.on('error', reject)
    })
    req.on('timeout', () => { req.destroy(new Error(`GET ${path} timed out`)) })
    req.on('error', reject)
    req.end()
  })
}
