import net from 'node:net'
import { readFileSync } from 'node:fs'
import { pino } from 'pino'
import { createBeam, newAccessSecret, torBackend } from '../src/index.ts'
const tn = JSON.parse(readFileSync('/tmp/tor-net.json', 'utf8'))
const [a, b] = tn.clients
const echo = net.createServer(s => { s.on('error', e => console.log('echo-side error', e.message)); s.pipe(s) })
await new Promise<void>(r => echo.listen(0, '127.0.0.1', r))
const ep = (echo.address() as net.AddressInfo).port
const log = (n: string) => pino({ level: process.env.LVL ?? 'info', base: { n } }, pino.destination(2))
const sharer = await createBeam({ backends: [torBackend({ controlPort: a.controlPort })], listenOnBackends: true, logger: log('S') })
const secret = newAccessSecret()
await sharer.share({ services: [{ port: ep }], access: { mode: 'secret', secret } })
const conn = await createBeam({ backends: [torBackend({ socksPort: b.socksPort })], logger: log('C') })
const tunnel = await conn.connect(sharer.connectString(secret), { dialTimeout: 60000, signal: AbortSignal.timeout(60000) })
console.log('connected; path', JSON.stringify(tunnel.path))
const sock = net.connect(tunnel.port, '127.0.0.1'); sock.setNoDelay(true)
sock.on('error', e => console.log('client sock error', e.message))
await new Promise(r => sock.once('connect', r))
const rtts: number[] = []
for (let i = 0; i < 30; i++) {
  const t = performance.now()
  sock.write('x')
  const ok = await Promise.race([new Promise(r => sock.once('data', () => r(true))), new Promise(r => setTimeout(() => r(false), 10000))])
  if (!ok) { console.log('no echo after 10 s at', i); break }
  rtts.push(performance.now() - t)
}
console.log('rtts', rtts.map(x => Math.round(x)).join(' '))
sock.destroy()
await conn.stop(); await sharer.stop(); echo.close()
