/**
 * A libp2p node that runs the /beam/punch/1.0.0 session (src/peer/punch) over
 * a limited circuit relay, for the NAT lab. Run inside a lab namespace with
 * Node 24 and the lab's public-ranges hook:
 *
 *   BEAM_LAB_PUBLIC_CIDRS=198.51.100.0/24 node --import=./lab-public-cidrs-hook.ts punch-peer.ts \
 *     share <relay multiaddr> <stun ip:port> <easy|hard>
 *   … punch-peer.ts connect <relay multiaddr> <stun ip:port> <easy|hard> <share peer id> <attempts>
 *
 * The share reserves a slot on the relay and answers punches; the connector
 * dials it through the relay (a limited connection), then opens one punch
 * stream per attempt. After each working pair both send a datagram over it.
 * One JSON line per event: ready {peerId}, reserved, connected {limited},
 * result {attempt, ok, ms, localPort, remote, error?}, heard {text}.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { PUNCH_PROTOCOL, PunchNat } from '../../src/signaling/index.ts'
import { answerPunch, closeQuietly, initiatePunch } from '../../src/peer/punch/index.ts'
import type { PunchResult } from '../../src/peer/punch/index.ts'

const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

function listen (r: PunchResult, attempt: number): void {
  r.socket.on('message', msg => { const t = msg.toString('utf8'); if (t.startsWith('say:')) print({ event: 'heard', attempt, text: t.slice(4) }) })
  // the peer may attach its listener a moment later than this side: say it three times
  for (let i = 0; i < 3; i++) setTimeout(() => { try { r.socket.send(`say:${attempt}`, r.remote.port, r.remote.ip) } catch { /* closed */ } }, i * 200)
  // the pair is not used further here
  setTimeout(() => { closeQuietly(r.socket) }, 3000)
}

const [mode, relay, stunText, natText, sharePeer, attemptsText] = process.argv.slice(2)
const [stunIp, stunPort] = (stunText ?? '').split(':')
const stun = { ip: stunIp ?? '', port: Number(stunPort) }
const nat = natText === 'easy' ? PunchNat.EASY : PunchNat.HARD
if ((mode !== 'share' && mode !== 'connect') || relay == null || !Number.isInteger(stun.port)) {
  process.stderr.write('usage: punch-peer.ts share|connect <relay> <stun ip:port> <easy|hard> [<share peer id> <attempts>]\n')
  process.exit(2)
}

const node = await createLibp2p({
  addresses: { listen: mode === 'share' ? ['/p2p-circuit'] : [] },
  transports: [tcp(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() }
})
print({ event: 'ready', peerId: node.peerId.toString() })
const stop = (): void => { setTimeout(() => process.exit(0), 2000).unref(); void Promise.resolve(node.stop()).finally(() => process.exit(0)) }
process.on('SIGTERM', stop)

if (mode === 'share') {
  let n = 0
  await node.handle(PUNCH_PROTOCOL, (stream, connection) => {
    const attempt = n++
    answerPunch(stream, { nat, stun, authorize: () => undefined })
      .then(r => { print({ event: 'result', attempt, ok: true, ms: r.ms, localPort: r.localPort, remote: r.remote, limited: connection.limits != null }); listen(r, attempt) },
        (err: Error) => { print({ event: 'result', attempt, ok: false, error: `${err.name}: ${err.message}` }) })
  }, { runOnLimitedConnection: true })
  await node.dial(multiaddr(relay), { signal: AbortSignal.timeout(10_000) })
  const deadline = Date.now() + 15_000
  while (!node.getMultiaddrs().some(a => a.toString().includes('/p2p-circuit')) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  print({ event: 'reserved', multiaddrs: node.getMultiaddrs().map(a => a.toString()) })
} else {
  const conn = await node.dial(multiaddr(`${relay}/p2p-circuit/p2p/${sharePeer ?? ''}`), { signal: AbortSignal.timeout(10_000) })
  print({ event: 'connected', limited: conn.limits != null, remote: conn.remoteAddr.toString() })
  for (let attempt = 0; attempt < Number(attemptsText ?? 1); attempt++) {
    const t0 = performance.now()
    try {
      const stream = await conn.newStream(PUNCH_PROTOCOL, { runOnLimitedConnection: true, signal: AbortSignal.timeout(5000) })
      const r = await initiatePunch(stream, { nat, stun, signal: AbortSignal.timeout(20_000) })
      print({ event: 'result', attempt, ok: true, ms: r.ms, totalMs: Math.round(performance.now() - t0), localPort: r.localPort, remote: r.remote })
      listen(r, attempt)
      await new Promise(resolve => setTimeout(resolve, 300))
    } catch (err) {
      print({ event: 'result', attempt, ok: false, totalMs: Math.round(performance.now() - t0), error: `${(err as Error).name}: ${(err as Error).message}` })
    }
  }
  print({ event: 'finished' })
}
