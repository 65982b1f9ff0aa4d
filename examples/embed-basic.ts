/**
 * beam as a library: share a local web server from one node and reach it
 * through a tunnel from another, in one process, on 127.0.0.1 only.
 *
 *   node examples/embed-basic.ts
 */
import { createServer, get } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createBeam, newAccessSecret } from 'beam'
import type { PathInfo } from 'beam'

// 1. something to share: a web server on a free port of 127.0.0.1
const web = createServer((_req, res) => { res.end('hello through beam\n') })
await new Promise<void>(resolve => web.listen(0, '127.0.0.1', resolve))
const webPort = (web.address() as AddressInfo).port

// 2. the sharing node: listens on loopback only, admits holders of the secret
const sharer = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'] })
const secret = newAccessSecret()
const share = await sharer.share({ services: [{ port: webPort }], access: { mode: 'secret', secret } })
share.on('refused', e => { console.error(`refused ${e.remotePeer}: ${e.reason}`) })
const connectString = sharer.connectString(secret)

// 3. the connecting node (no listener of its own): a local port that forwards to the share
const connector = await createBeam()
const tunnel = await connector.connect(connectString, { signal: AbortSignal.timeout(10_000) })
// the path is measured in the background; it may be known already
const path = tunnel.path ?? await new Promise<PathInfo>(resolve => tunnel.once('path', resolve))
console.log(`path: ${path.direct ? 'direct' : 'relayed'} over ${path.transport}`)

// 4. use it like the service itself
const body = await new Promise<string>((resolve, reject) => {
  get({ host: tunnel.host, port: tunnel.port, path: '/' }, res => {
    let text = ''
    res.setEncoding('utf8')
    res.on('data', (c: string) => { text += c })
    res.on('end', () => { resolve(text) })
  }).on('error', reject)
})
console.log(`got: ${body.trim()}`)

// 5. stop everything: open tunnels are reset, listeners closed; the process then exits 0
await connector.stop()
await sharer.stop()
web.close()
