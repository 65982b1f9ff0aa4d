// Dev tool: a minimal reproduction of @chainsafe/libp2p-quic's bulk throughput,
// without beam. Two stock libp2p nodes, each in its own process, on
// 127.0.0.1; the dialer opens one stream and sends --mib MiB, the listener
// reads to the end. The same with @libp2p/tcp + noise + yamux in the same run.
//
//   node_modules/.bin/node scripts/quic-repro.ts [--mib 256] [--rounds 3]
//        [--transports quic,tcp] [--read-size N] [--write-size 65536]
//
// Reported per round: MB/s (10^6 bytes/s, first byte read to last byte read)
// and CPU seconds per GiB of each process (user+system over the transfer),
// with the part of it on the main (JavaScript) thread; the rest is other
// threads (for QUIC: quinn on the binding's tokio workers).
// --read-size N asks the QUIC binding's native Stream.read for N bytes at a
// time instead of the 4,096 its JavaScript side passes (an experiment: it
// wraps napi Stream.prototype.read in both processes).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string' },
    transport: { type: 'string', default: 'quic' },
    addr: { type: 'string' },
    mib: { type: 'string', default: '256' },
    rounds: { type: 'string', default: '3' },
    transports: { type: 'string', default: 'quic,tcp' },
    'read-size': { type: 'string', default: '0' },
    'write-size': { type: 'string', default: '65536' }
  }
})

const PROTOCOL = '/quic-repro/1.0.0'
const MIB = Number(opts.mib)
const READ_SIZE = Number(opts['read-size'])
const WRITE_SIZE = Number(opts['write-size'])

interface Report { bytes: number, ms: number, cpuMs: number, mainMs: number }

// CPU ms of this process's main (JavaScript) thread, from /proc (Linux): the
// rest of the process CPU is Node's and the binding's other threads (tokio
// workers running quinn, libuv's pool)
function mainThreadMs (): number {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[11]) + Number(fields[12]) // utime, stime
    return ticks * 10 // USER_HZ 100
  } catch { return NaN }
}

async function wrapNativeRead (size: number): Promise<void> {
  // reach dist/src/napi.js through the package's entry (its exports map lists only '.')
  const entry = import.meta.resolve('@chainsafe/libp2p-quic')
  const napi = await import(new URL('./napi.js', entry).href) as { Stream: { prototype: { read: (n: number) => Promise<Uint8Array | null> } } }
  const proto = napi.Stream.prototype
  const original = proto.read
  proto.read = function (this: unknown, n: number) { return original.call(this, Math.max(n, size)) }
}

async function node (transport: string, listen: boolean): Promise<import('libp2p').Libp2p> {
  const { createLibp2p } = await import('libp2p')
  if (transport === 'quic') {
    if (READ_SIZE > 0) await wrapNativeRead(READ_SIZE)
    const { quic } = await import('@chainsafe/libp2p-quic')
    return await createLibp2p({
      addresses: { listen: listen ? ['/ip4/127.0.0.1/udp/0/quic-v1'] : [] },
      transports: [quic()],
      connectionGater: { denyDialMultiaddr: () => false }
    })
  }
  const { tcp } = await import('@libp2p/tcp')
  const { noise } = await import('@chainsafe/libp2p-noise')
  const { yamux } = await import('@chainsafe/libp2p-yamux')
  return await createLibp2p({
    addresses: { listen: listen ? ['/ip4/127.0.0.1/tcp/0'] : [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false }
  })
}

const cpuMs = (since: NodeJS.CpuUsage): number => { const u = process.cpuUsage(since); return (u.user + u.system) / 1000 }

async function listener (): Promise<void> {
  const n = await node(opts.transport ?? 'quic', true)
  await n.handle(PROTOCOL, (stream) => {
    let bytes = 0
    let t0 = 0
    let c0: NodeJS.CpuUsage = process.cpuUsage()
    let m0 = 0
    stream.addEventListener('message', (e) => {
      if (bytes === 0) { t0 = performance.now(); c0 = process.cpuUsage(); m0 = mainThreadMs() }
      bytes += e.data.byteLength
    })
    stream.addEventListener('remoteCloseWrite', () => {
      const report: Report = { bytes, ms: performance.now() - t0, cpuMs: cpuMs(c0), mainMs: mainThreadMs() - m0 }
      process.stdout.write(`done ${JSON.stringify(report)}\n`)
      void stream.close()
    })
  })
  process.stdout.write(`addr ${n.getMultiaddrs()[0]?.toString() ?? ''}\n`)
}

async function dialer (): Promise<void> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  const n = await node(opts.transport ?? 'quic', false)
  const stream = await n.dialProtocol(multiaddr(opts.addr ?? ''), PROTOCOL)
  const block = new Uint8Array(WRITE_SIZE).fill(7)
  const total = MIB * 1024 * 1024
  const t0 = performance.now()
  const c0 = process.cpuUsage()
  const m0 = mainThreadMs()
  for (let sent = 0; sent < total; sent += WRITE_SIZE) {
    if (!stream.send(block)) await stream.onDrain()
  }
  await stream.close()
  const report: Report = { bytes: total, ms: performance.now() - t0, cpuMs: cpuMs(c0), mainMs: mainThreadMs() - m0 }
  process.stdout.write(`done ${JSON.stringify(report)}\n`)
  // stays up until the orchestrator has the listener's figures and ends it:
  // stopping the node here would close the connection under the last bytes
  setInterval(() => {}, 60_000)
}

// ------------------------------------------------------------- orchestrator

function child (args: string[]): { lines: AsyncIterator<string>, kill: () => void } {
  const p = spawn(process.execPath, [fileURLToPath(import.meta.url), ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]()
  return { lines, kill: () => { p.kill() } }
}

async function expect (lines: AsyncIterator<string>, word: string): Promise<string> {
  const deadline = setTimeout(() => { console.error(`no "${word}" within 300 s`); process.exit(1) }, 300_000)
  for (;;) {
    const r = await lines.next()
    if (r.done === true) throw new Error(`child ended before "${word}"`)
    if (r.value.startsWith(`${word} `)) { clearTimeout(deadline); return r.value.slice(word.length + 1) }
  }
}

interface Figures { mbps: number, sendCpu: number, recvCpu: number, sendMain: number, recvMain: number }

async function round (transport: string): Promise<Figures> {
  const common = ['--transport', transport, '--mib', String(MIB), '--read-size', String(READ_SIZE), '--write-size', String(WRITE_SIZE)]
  const l = child(['--role', 'listener', ...common])
  try {
    const addr = await expect(l.lines, 'addr')
    const d = child(['--role', 'dialer', '--addr', addr, ...common])
    try {
      const recv = JSON.parse(await expect(l.lines, 'done')) as Report
      const send = JSON.parse(await expect(d.lines, 'done')) as Report
      const gib = recv.bytes / 2 ** 30
      const perGib = (ms: number): number => ms / 1000 / gib
      return { mbps: recv.bytes / 1e6 / (Math.max(recv.ms, 1) / 1000), sendCpu: perGib(send.cpuMs), recvCpu: perGib(recv.cpuMs), sendMain: perGib(send.mainMs), recvMain: perGib(recv.mainMs) }
    } finally { d.kill() }
  } finally { l.kill() }
}

async function main (): Promise<void> {
  if (opts.role === 'listener') return await listener()
  if (opts.role === 'dialer') return await dialer()
  const rounds = Number(opts.rounds)
  const transports = (opts.transports ?? '').split(',')
  console.log(`${MIB} MiB, one stream, ${rounds} rounds, writes of ${WRITE_SIZE} B${READ_SIZE > 0 ? `, QUIC native reads of ${READ_SIZE} B` : ''}`)
  for (let i = 0; i < rounds; i++) {
    for (const t of transports) {
      const r = await round(t)
      console.log(`${t.padEnd(5)} ${r.mbps.toFixed(0).padStart(4)} MB/s  CPU s/GiB sender ${r.sendCpu.toFixed(2)} (JS thread ${r.sendMain.toFixed(2)})  receiver ${r.recvCpu.toFixed(2)} (JS thread ${r.recvMain.toFixed(2)})`)
    }
  }
}

await main()
