// Dev tool: the floor of a WebRTC data channel under beam, without libp2p.
//
//   node_modules/.bin/node scripts/webrtc-sctp-throughput.ts [--mib 256]
//        [--size 16384,65536,262144] [--rounds 3] [--mtu N] [--low B] [--high B]
//        [--sctp '{"recvBufferSize":...}']
//
// Two node-datachannel RTCPeerConnections (the polyfill @libp2p/webrtc uses) in
// one process, ICE pinned to 127.0.0.1 with no ICE server, one ordered
// reliable data channel. The sender writes --mib MiB in messages of --size
// bytes, keeping bufferedAmount between --low (bufferedAmountLowThreshold,
// default 1 MiB) and --high (default 4 MiB) bytes; the
// receiver counts bytes. Reported per message size: MB/s (10^6 bytes/s) and
// the process's CPU seconds (user + system, every thread: node-datachannel's
// SCTP, DTLS and ICE threads included) per GiB moved. Both ends are in this
// process, so CPU s/GiB is the sum of a sender and a receiver.
// Not a test: an instrument for docs/performance.md ("WebRTC").
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'

const { values: opts } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    size: { type: 'string', default: '16384,65536,262144' },
    rounds: { type: 'string', default: '3' },
    mtu: { type: 'string' },
    sctp: { type: 'string' },
    low: { type: 'string', default: '1048576' },
    high: { type: 'string', default: '4194304' }
  }
})

const { RTCPeerConnection } = await import('node-datachannel/polyfill')
const ndc = await import('node-datachannel')
if (opts.sctp != null) ndc.setSctpSettings(JSON.parse(opts.sctp) as Parameters<typeof ndc.setSctpSettings>[0])

const HIGH = Number(opts.high)
const LOW = Number(opts.low)
const TIMEOUT_MS = 300_000

type Config = RTCConfiguration & { bindAddress?: string, mtu?: number }
type PeerConnection = InstanceType<typeof RTCPeerConnection>
type DataChannel = ReturnType<PeerConnection['createDataChannel']>

async function connectPair (): Promise<{ a: PeerConnection, b: PeerConnection, send: DataChannel, recv: DataChannel }> {
  const config: Config = { iceServers: [], bindAddress: '127.0.0.1' }
  if (opts.mtu != null) config.mtu = Number(opts.mtu)
  const a = new RTCPeerConnection(config)
  const b = new RTCPeerConnection(config)
  a.onicecandidate = ({ candidate }) => { if (candidate != null) b.addIceCandidate(candidate).catch(() => {}) }
  b.onicecandidate = ({ candidate }) => { if (candidate != null) a.addIceCandidate(candidate).catch(() => {}) }
  const send = a.createDataChannel('')
  const incoming = new Promise<DataChannel>(resolve => { b.ondatachannel = ({ channel }) => { resolve(channel) } })
  const offer = await a.createOffer()
  await a.setLocalDescription(offer)
  await b.setRemoteDescription(offer)
  const answer = await b.createAnswer()
  await b.setLocalDescription(answer)
  await a.setRemoteDescription(answer)
  const opened = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error('data channel did not open within 30 s')) }, 30_000)
    send.onopen = () => { clearTimeout(t); resolve() }
  })
  const [recv] = await Promise.all([incoming, opened])
  recv.binaryType = 'arraybuffer'
  return { a, b, send, recv }
}

async function transfer (size: number, bytes: number): Promise<{ mbps: number, cpuPerGiB: number }> {
  const { a, b, send, recv } = await connectPair()
  const chunk = randomBytes(size)
  let received = 0
  const done = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`transfer of ${size}-byte messages: no end within ${TIMEOUT_MS} ms`)) }, TIMEOUT_MS)
    recv.onmessage = (evt: MessageEvent<ArrayBuffer>) => {
      received += evt.data.byteLength
      if (received >= bytes) { clearTimeout(t); resolve() }
    }
  })
  let sent = 0
  const pump = (): void => {
    while (sent < bytes && send.bufferedAmount < HIGH) {
      const n = Math.min(size, bytes - sent)
      send.send(n === size ? chunk : chunk.subarray(0, n))
      sent += n
    }
  }
  send.bufferedAmountLowThreshold = LOW
  send.onbufferedamountlow = pump
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  pump()
  await done
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const cpu = process.cpuUsage(cpu0)
  a.close()
  b.close()
  const gib = bytes / 2 ** 30
  return { mbps: bytes / 1e6 / seconds, cpuPerGiB: (cpu.user + cpu.system) / 1e6 / gib }
}

const bytes = Number(opts.mib) * 1024 * 1024
const rounds = Number(opts.rounds)
console.log(`libdatachannel ${ndc.getLibraryVersion()} (node-datachannel) loopback, ${opts.mib} MiB per round, mtu ${opts.mtu ?? 'default'}, buffered ${LOW}..${HIGH}${opts.sctp != null ? `, sctp ${opts.sctp}` : ''}`)
for (const size of (opts.size ?? '').split(',').map(Number)) {
  const results: Array<{ mbps: number, cpuPerGiB: number }> = []
  for (let r = 0; r < rounds; r++) results.push(await transfer(size, bytes))
  const mbps = results.map(x => x.mbps.toFixed(0)).join(' ')
  const cpu = results.map(x => x.cpuPerGiB.toFixed(2)).join(' ')
  console.log(`message ${String(size).padStart(6)} B: ${mbps} MB/s, CPU s/GiB (both ends) ${cpu}`)
}
ndc.cleanup()
