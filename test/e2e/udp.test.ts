/**
 * UDP through beam: `beam share PORT/udp` and `beam connect … --remote
 * PORT/udp`. Real beam processes on loopback; a UDP echo service (Node's
 * dgram, echoing each datagram to its sender) and socat's UDP service.
 * Loss and order are measured and printed; each source gets its own
 * answers; the largest datagram crosses; an idle source's tunnel closes.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BeamProcess, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { freePort } from '../helpers/services.ts'
import { findTool } from '../helpers/sshd.ts'
import { suiteNeeds, need } from '../helpers/require-tools.ts'
import { waitUntil } from '../helpers/wait.ts'

/** A UDP echo service on 127.0.0.1: each datagram goes back to its sender as it came. */
async function udpEcho (): Promise<{ port: number, close: () => Promise<void> }> {
  const s = createSocket('udp4')
  s.on('message', (m, r) => { s.send(m, r.port, r.address) })
  await new Promise<void>(resolve => s.bind(0, '127.0.0.1', resolve))
  return { port: s.address().port, close: async () => { await new Promise<void>(resolve => { s.close(() => { resolve() }) }) } }
}

/** A client socket on 127.0.0.1 that records what comes back. */
async function udpClient (): Promise<{ socket: Socket, got: Buffer[] }> {
  const socket = createSocket('udp4')
  const got: Buffer[] = []
  socket.on('message', m => { got.push(m) })
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  return { socket, got }
}

async function send (socket: Socket, port: number, data: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => { socket.send(data, port, '127.0.0.1', err => { if (err != null) reject(err); else resolve() }) })
}

describe('UDP services through beam', () => {
  let echo: Awaited<ReturnType<typeof udpEcho>>
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let share: BeamProcess
  let connect: BeamProcess
  let connectString = ''
  let port = 0

  beforeAll(async () => {
    echo = await udpEcho()
    shareHome = await tempHome()
    connectHome = await tempHome()
    const s = await startShare([`${echo.port}/udp`], shareHome.dir)
    share = s.proc
    connectString = s.connect
    connect = new BeamProcess(['connect', connectString, '--remote', `${echo.port}/udp`, '--udp-idle-timeout', '1500', ...OFFLINE, '--json'], { BEAM_HOME: connectHome.dir })
    const ev = await connect.waitFor('listening', 40_000)
    expect(ev.udp).toBe(true)
    port = Number(ev.port)
  }, 60_000)

  afterAll(async () => {
    await connect?.stop()
    await share?.stop()
    await echo?.close()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('the share lists the UDP service; 2000 datagrams with 32 in flight come back, loss and order reported', async () => {
    expect(share.events.find(e => e.event === 'ready')?.services).toEqual([{ host: '127.0.0.1', port: echo.port, address: `127.0.0.1:${echo.port}`, udp: true }])
    const client = await udpClient()
    try {
      const count = 2000
      const size = 1200
      const window = 32
      // a window of datagrams in flight, as a request/response protocol keeps
      // (DNS, QUIC's congestion window): a sender that outruns the sockets'
      // receive buffers (~200 KiB on Linux) is dropped by the kernel, tunnel or not
      let next = 0
      const sendNext = async (): Promise<void> => {
        if (next >= count) return
        const d = randomBytes(size)
        d.writeUInt32BE(next++, 0)
        await send(client.socket, port, d)
      }
      client.socket.on('message', () => { void sendNext() })
      for (let i = 0; i < window; i++) await sendNext()
      // a lost datagram does not stall the window for long: one more goes out after 500 ms of silence
      const deadline = Date.now() + 40_000
      let seen = 0
      while (next < count && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 500))
        if (client.got.length === seen) await sendNext()
        seen = client.got.length
      }
      await waitUntil('the last echoes', () => client.got.length >= count, { timeoutMs: 3000 }).catch(() => {})
      const seqs = client.got.map(b => b.readUInt32BE(0))
      const unique = new Set(seqs)
      const lost = count - unique.size
      let reordered = 0
      for (let i = 1; i < seqs.length; i++) if ((seqs[i] ?? 0) < (seqs[i - 1] ?? 0)) reordered++
      console.log(`UDP through beam: ${next} of ${count} datagrams of ${size} bytes sent (${window} in flight), ${unique.size} echoed, lost ${lost} (${(100 * lost / count).toFixed(2)} %), out of order ${reordered}, duplicates ${seqs.length - unique.size}`)
      for (const [who, p] of [['connect', connect], ['share', share]] as const) {
        for (const l of p.stderr.split('\n').filter(l => /dropped/.test(l))) console.log(`${who}: ${l.slice(0, 300)}`)
      }
      expect(seqs.length - unique.size).toBe(0)
      // the stream keeps order; with a window, loopback loses (next to) nothing
      expect(reordered).toBe(0)
      expect(lost / count).toBeLessThan(0.01)
      expect(client.got.every(b => b.length === size)).toBe(true)
    } finally {
      client.socket.close()
    }
  }, 60_000)

  it('each source gets its own answers; the largest datagram (65507 bytes) crosses intact', async () => {
    const a = await udpClient()
    const b = await udpClient()
    try {
      const big = randomBytes(65_507)
      await send(a.socket, port, Buffer.from('from a'))
      await send(b.socket, port, Buffer.from('from b'))
      await send(b.socket, port, big)
      await waitUntil('both answers', () => a.got.length >= 1 && b.got.length >= 2, { timeoutMs: 10_000 })
      expect(a.got.map(m => m.toString())).toEqual(['from a'])
      expect(b.got[0]?.toString()).toBe('from b')
      expect(b.got[1]?.equals(big)).toBe(true)
    } finally {
      a.socket.close()
      b.socket.close()
    }
  }, 30_000)

  it('a source that stays quiet loses its tunnel after the idle timeout; the share closes its side too', async () => {
    const c = await udpClient()
    try {
      const from = connect.events.length
      const shareFrom = share.events.length
      await send(c.socket, port, Buffer.from('ping'))
      const open = await connect.waitFor('tunnel-open', 10_000, () => true, from)
      const closed = await connect.waitFor('tunnel-close', 10_000, e => e.id === open.id, from)
      expect(closed.error).toBeUndefined()
      expect(closed.sent).toBe(4)
      await share.waitFor('tunnel-close', 10_000, e => e.udp === true, shareFrom)
      // the next datagram opens a new tunnel
      c.got.length = 0
      await send(c.socket, port, Buffer.from('again'))
      await waitUntil('the answer', () => c.got.length >= 1, { timeoutMs: 10_000 })
      expect(c.got[0]?.toString()).toBe('again')
    } finally {
      c.socket.close()
    }
  }, 30_000)

  it('bad input gets one line and its exit code', async () => {
    const env = { BEAM_HOME: connectHome.dir }
    const stdio = await runBeam(['connect', connectString, '--remote', `${echo.port}/udp`, '--stdio', ...OFFLINE], env)
    expect(stdio.code).toBe(2)
    expect(stdio.stderr).toMatch(/UDP service/)
    const idle = await runBeam(['connect', connectString, '--udp-idle-timeout', '100', ...OFFLINE], env)
    expect(idle.code).toBe(2)
    const proto = await runBeam(['share', '53/tcp/udp', ...OFFLINE], env)
    expect(proto.code).toBe(2)
    const badPort = await runBeam(['share', '70000/udp', ...OFFLINE], env)
    expect(badPort.code).toBe(3)
    // the share offers this port over UDP only: asking for it over TCP, or another UDP port, is exit 11
    const tcp = await runBeam(['connect', connectString, '--remote', String(echo.port), ...OFFLINE, '--no-dht'], env, 60_000)
    expect(tcp.code).toBe(11)
    expect(tcp.stderr.trim().split('\n').filter(l => l.startsWith('beam:'))).toHaveLength(1)
    expect(tcp.stderr).toContain(`${echo.port}/udp`)
    const other = await runBeam(['connect', connectString, '--remote', '9/udp', ...OFFLINE, '--no-dht'], env, 60_000)
    expect(other.code).toBe(11)
  }, 120_000)
})

describe.skipIf(suiteNeeds('UDP tests with socat', need(findTool('socat') != null, '\'socat\' not found (scripts/install-test-deps.sh installs it)')))('a socat UDP service through beam', () => {
  let socat: ChildProcess
  const cleanups: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })

  it('answers through the tunnel', async () => {
    const servicePort = await freePort()
    // a real UDP service: socat answers each datagram with what `tr` makes of it
    socat = spawn(findTool('socat') ?? 'socat', [`UDP4-RECVFROM:${servicePort},bind=127.0.0.1,fork`, 'SYSTEM:tr a-z A-Z'], { stdio: 'ignore' })
    cleanups.push(async () => { socat.kill('SIGTERM'); await new Promise(resolve => { if (socat.exitCode != null) resolve(null); else socat.once('exit', resolve) }) })
    const home = await tempHome()
    cleanups.push(home.cleanup)
    const s = await startShare([`${servicePort}/udp`], home.dir)
    cleanups.push(async () => { await s.proc.stop() })
    const chome = await tempHome()
    cleanups.push(chome.cleanup)
    const c = new BeamProcess(['connect', s.connect, '--remote', `${servicePort}/udp`, ...OFFLINE, '--json'], { BEAM_HOME: chome.dir })
    cleanups.push(async () => { await c.stop() })
    const ev = await c.waitFor('listening', 40_000)
    const client = await udpClient()
    cleanups.push(async () => { client.socket.close() })
    // socat may start after the first datagram: retry a few times (bounded)
    for (let i = 0; i < 10 && client.got.length === 0; i++) {
      await send(client.socket, Number(ev.port), Buffer.from('hello socat\n'))
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    expect(client.got[0]?.toString()).toBe('HELLO SOCAT\n')
  }, 90_000)
})
