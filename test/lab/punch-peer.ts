/**
 * A libp2p node that runs the /beam/punch/1.0.0 session (src/peer/punch) over
 * a limited circuit relay, for the NAT lab. Run inside a lab namespace with
 * Node 24 and the lab's public-ranges hook:
 *
 *   BEAM_LAB_PUBLIC_CIDRS=198.51.100.0/24 node --import=./lab-public-cidrs-hook.ts punch-peer.ts \
 *     share <relay multiaddr> <stun ip:port> <easy|hard> [webrtc]
 *   … punch-peer.ts connect <relay multiaddr> <stun ip:port> <easy|hard> <share peer id> <attempts> [webrtc]
 *
 * The share reserves a slot on the relay and answers punches; the connector
 * dials it through the relay (a limited connection), then opens one punch
 * stream per attempt. After each working pair both send a datagram over it;
 * with `webrtc`, instead both close the pair's socket and the connector dials
 * the share over @libp2p/webrtc (signalling through the relay), whose ICE
 * agent binds the punched port on each side (rtcConfiguration is a function:
 * the next WebRTC connection takes the port), then moves 1 MiB over it
 * (more than the relay's 128 KiB limit), printing {"event":"webrtc",…}.
 * One JSON line per event: ready {peerId}, reserved, connected {limited},
 * result {attempt, ok, ms, localPort, remote, error?}, heard {text}.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { PUNCH_PROTOCOL, PunchNat } from '../../src/signaling/index.ts'
import { answerPunch, closeQuietly, initiatePunch } from '../../src/peer/punch/index.ts'
import type { PunchResult } from '../../src/peer/punch/index.ts'
import { installOfferCandidateHold } from '../../src/peer/libp2p/offer-candidates.ts'
import { installChannelFailFast } from '../../src/peer/libp2p/channel-fail-fast.ts'
import type { Connection } from '@libp2p/interface'

const print = (o: Record<string, unknown>): void => { process.stdout.write(`${JSON.stringify(o)}\n`) }

/** 1 MiB through the echo protocol on `conn`; the bytes that came back. */
async function echo (conn: Connection): Promise<number> {
  const stream = await conn.newStream(ECHO, { signal: AbortSignal.timeout(10_000) })
  let back = 0
  const done = new Promise<void>(resolve => {
    stream.addEventListener('message', e => { back += e.data.byteLength; if (back >= 1 << 20) resolve() })
    stream.addEventListener('close', () => { resolve() })
  })
  const chunk = new Uint8Array(16 * 1024)
  for (let i = 0; i < 64; i++) if (!stream.send(chunk)) await stream.onDrain()
  await Promise.race([done, new Promise(resolve => setTimeout(resolve, 10_000))])
  await stream.close().catch(() => {})
  return back
}

function listen (r: PunchResult, attempt: number): void {
  r.socket.on('message', msg => { const t = msg.toString('utf8'); if (t.startsWith('say:')) print({ event: 'heard', attempt, text: t.slice(4) }) })
  // the peer may attach its listener a moment later than this side: say it three times
  for (let i = 0; i < 3; i++) setTimeout(() => { try { r.socket.send(`say:${attempt}`, r.remote.port, r.remote.ip) } catch { /* closed */ } }, i * 200)
  // the pair is not used further here
  setTimeout(() => { closeQuietly(r.socket) }, 3000)
}

const [mode, relay, stunText, natText, sharePeer, attemptsText, carry] = process.argv.slice(2)
const ECHO = '/punch-lab/echo/1.0.0'
/** 'webrtc': carry a WebRTC connection on the punched ports (the share's fifth argument, the connector's seventh). */
const carryWith = mode === 'share' ? sharePeer : carry
/** The punched local port the next WebRTC connection's ICE agent binds (taken once). */
let nextPort: number | undefined
const rtcConfiguration = (): RTCConfiguration & { portRangeBegin?: number, portRangeEnd?: number } => {
  const port = nextPort
  nextPort = undefined
  return { iceServers: [{ urls: `stun:${stunText ?? ''}` }], ...(port != null ? { portRangeBegin: port, portRangeEnd: port } : {}) }
}
const [stunIp, stunPort] = (stunText ?? '').split(':')
const stun = { ip: stunIp ?? '', port: Number(stunPort) }
const nat = natText === 'easy' ? PunchNat.EASY : PunchNat.HARD
if ((mode !== 'share' && mode !== 'connect') || relay == null || !Number.isInteger(stun.port)) {
  process.stderr.write('usage: punch-peer.ts share|connect <relay> <stun ip:port> <easy|hard> [<share peer id> <attempts>]\n')
  process.exit(2)
}

// the WebRTC fixes beam installs before it builds @libp2p/webrtc (libp2p-options.ts):
// without them libdatachannel's DTLS races make some attempts fail or stall
await installOfferCandidateHold()
await installChannelFailFast()

const node = await createLibp2p({
  addresses: { listen: mode === 'share' ? ['/p2p-circuit', '/webrtc'] : [] },
  transports: [tcp(), circuitRelayTransport(), webRTC({ rtcConfiguration })],
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
      .then(r => {
        print({ event: 'result', attempt, ok: true, ms: r.ms, localPort: r.localPort, remote: r.remote, limited: connection.limits != null })
        if (carryWith === 'webrtc') {
          // the next WebRTC connection (the connector's, signalled through the relay) binds the punched port
          nextPort = r.localPort
          closeQuietly(r.socket)
        } else {
          listen(r, attempt)
        }
      },
        (err: Error) => { print({ event: 'result', attempt, ok: false, error: `${err.name}: ${err.message}` }) })
  }, { runOnLimitedConnection: true })
  await node.handle(ECHO, (stream) => {
    stream.addEventListener('message', e => { stream.send(e.data) })
    stream.addEventListener('remoteCloseWrite', () => { void stream.close() })
  })
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
      if (carryWith === 'webrtc') {
        nextPort = r.localPort
        closeQuietly(r.socket)
        await new Promise(resolve => setTimeout(resolve, 100))
        const w = await node.dial(multiaddr(`${relay}/p2p-circuit/webrtc/p2p/${sharePeer ?? ''}`), { signal: AbortSignal.timeout(15_000) })
        const openMs = Math.round(performance.now() - t0)
        const echoed = await echo(w)
        print({ event: 'webrtc', attempt, openMs, remote: w.remoteAddr.toString(), limited: w.limits != null, echoed, totalMs: Math.round(performance.now() - t0) })
        await w.close()
      } else {
        listen(r, attempt)
        await new Promise(resolve => setTimeout(resolve, 300))
      }
    } catch (err) {
      print({ event: 'result', attempt, ok: false, totalMs: Math.round(performance.now() - t0), error: `${(err as Error).name}: ${(err as Error).message}` })
    }
  }
  print({ event: 'finished' })
}
