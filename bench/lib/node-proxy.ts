/**
 * A node:http reverse proxy with a keep-alive agent, as its own process
 * (bench/gateway.ts's yardstick for what Node's HTTP costs a proxy):
 * `node bench/lib/node-proxy.ts TARGET_PORT` prints `{"port":N}` once listening on 127.0.0.1.
 */
import { Agent, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

const target = Number(process.argv[2])
const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const server = createServer((req, res) => {
  const out = request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' }, agent }, r => { res.writeHead(r.statusCode ?? 502, r.headers); r.pipe(res) })
  out.on('error', () => { res.destroy() })
  req.pipe(out)
})
server.keepAliveTimeout = 30_000
server.listen(0, '127.0.0.1', () => { process.stdout.write(JSON.stringify({ port: (server.address() as AddressInfo).port }) + '\n') })
