/**
 * The birthday hole punch (src/peer/punch) across real Linux NATs: an
 * endpoint-independent NAT against a symmetric one (random ports), against a
 * sequential symmetric one (ports predicted from two STUN answers), and two
 * symmetric NATs (where the method does not apply: it must fail within its
 * budget, not succeed by accident). The test process carries the
 * coordination messages, as the relayed connection does in beam. 20 attempts
 * per pairing; prints success rate and time to a working pair, which
 * docs/nat-traversal.md quotes.
 */
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EASY_MAX_PROBES, HARD_RESEND_INTERVAL, HARD_SOCKETS, PUNCH_TIMEOUT, predictedPorts } from '../../src/peer/punch/index.ts'
import { PUBLIC_NET, SEQUENTIAL_PORTS, createLab, labAvailable } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines } from './udp-reflector.ts'
import type { JsonLine } from './udp-reflector.ts'
import { startStun, turnAvailable } from './turn.ts'
import { startStockNode } from './public-net.ts'
import { LAB_PUBLIC_CIDRS_ENV } from './lab-public-cidrs.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'

const avail = await labAvailable()
const turnOk = turnAvailable()
const skip = suiteNeeds('hole punching lab tests', avail) || suiteNeeds('hole punching lab tests (coturn as the STUN server)', turnOk)

const AGENT = fileURLToPath(new URL('./punch-agent.ts', import.meta.url))
const PEER = fileURLToPath(new URL('./punch-peer.ts', import.meta.url))
const HOOK = fileURLToPath(new URL('./lab-public-cidrs-hook.ts', import.meta.url))
const ATTEMPTS = 20
const STUN_PORT = 3478
/** Time an attempt may take here: the punch's own bound plus the agents' start and the messages. */
const ATTEMPT_MS = PUNCH_TIMEOUT + 3000

interface Outcome { ok: boolean, ms: number, easySent: number, hardSent: number, hint?: { before: number, after: number }, remotePort?: number }
const table: Array<{ pairing: string, ok: number, n: number, p50: number, p90: number, max: number, within5s: number, easySent: number, hardSent: number }> = []

function quantile (xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}

describe.skipIf(skip)('hole punching across one hard NAT (birthday method)', () => {
  let lab: Lab
  let stun: { ip: string, port: number }

  beforeAll(async () => {
    lab = await createLab({ hosts: [{ name: 'stun' }, { name: 'relay' }, { name: 'eim', nat: 'eim' }, { name: 'sym', nat: 'symmetric' }, { name: 'seq', nat: 'sequential' }, { name: 'sym2', nat: 'symmetric' }] })
    await startStun(lab, 'stun', { port: STUN_PORT })
    stun = { ip: lab.hosts.stun?.ip ?? '', port: STUN_PORT }
  })

  afterAll(async () => {
    await lab?.teardown()
    if (table.length > 0) console.table(table)
  })

  async function agent (host: string): Promise<JsonLines> {
    const a = new JsonLines(lab.spawn(host, [process.execPath, AGENT]))
    await a.waitFor(l => l.event === 'ready', 15_000)
    return a
  }

  const is = (event: string, id: number) => (l: JsonLine): boolean => l.event === event && l.id === id
  const cmd = (a: JsonLines, c: Record<string, unknown>): void => { a.send(JSON.stringify(c)) }

  /** One attempt between two agents: the easy side's mapping, the hard side's burst and hint, the easy side's probes; then data both ways. */
  async function attempt (easy: JsonLines, hard: JsonLines, id: number): Promise<Outcome> {
    const t0 = performance.now()
    cmd(easy, { cmd: 'bind', id, stun })
    const m = await easy.waitFor(is('mapping', id), 5000)
    expect(m.port, 'the easy side learns its mapping from STUN').toBeTypeOf('number')
    const token = randomBytes(16).toString('hex')
    cmd(hard, { cmd: 'hard', id, peer: { ip: m.ip, port: m.port }, token, stun })
    const h = await hard.waitFor(is('hint', id), 5000)
    cmd(easy, { cmd: 'easy', id, peerIp: h.publicIp, token, ...(h.hint != null ? { hint: h.hint } : {}) })
    const [er, hr] = await Promise.all([easy.waitFor(is('result', id), ATTEMPT_MS), hard.waitFor(is('result', id), ATTEMPT_MS)])
    const ms = performance.now() - t0
    const ok = er.ok === true && hr.ok === true
    if (ok) {
      // the pair carries data both ways, and each side sees the other's punched endpoint
      cmd(easy, { cmd: 'say', id, text: `e${id}` })
      cmd(hard, { cmd: 'say', id, text: `h${id}` })
      await hard.waitFor(l => l.event === 'heard' && l.text === `e${id}`, 2000)
      await easy.waitFor(l => l.event === 'heard' && l.text === `h${id}`, 2000)
      expect((hr.remote as { port: number }).port).toBe(m.port)
      expect((er.remote as { ip: string }).ip).toBe(h.publicIp)
    } else {
      expect(er.ok, 'a punch succeeds on both sides or on neither').toBe(hr.ok)
    }
    cmd(easy, { cmd: 'reset', id })
    cmd(hard, { cmd: 'reset', id })
    await Promise.all([easy.waitFor(is('reset', id), 5000), hard.waitFor(is('reset', id), 5000)])
    const hint = h.hint as { before: number, after: number } | undefined
    return { ok, ms, easySent: Number(er.packetsSent ?? 0), hardSent: Number(hr.packetsSent ?? 0), ...(hint != null ? { hint } : {}), ...(ok ? { remotePort: (er.remote as { port: number }).port } : {}) }
  }

  /** Every UDP flow a NAT router passed from its host went to the STUN server or the peer's public address: no other host was probed. */
  async function onlyTalkedTo (host: string, allowed: string[]): Promise<void> {
    const own = lab.hosts[host]?.ip ?? ''
    const dsts = new Set<string>()
    for (const line of (await lab.conntrack(host)).split('\n')) {
      const m = new RegExp(`^udp .*?src=${own.replace(/\./g, '\\.')} dst=(\\S+)`).exec(line)
      if (m?.[1] != null) dsts.add(m[1])
    }
    expect(dsts.size).toBeGreaterThan(0)
    for (const d of dsts) expect(allowed).toContain(d)
  }

  async function pairing (name: string, easyHost: string, hardHost: string, parallel = 1): Promise<Outcome[]> {
    await lab.flushNat(easyHost)
    await lab.flushNat(hardHost)
    const pairs = await Promise.all(Array.from({ length: parallel }, async () => [await agent(easyHost), await agent(hardHost)] as const))
    const outcomes: Outcome[] = []
    for (let round = 0; outcomes.length < ATTEMPTS; round++) {
      outcomes.push(...await Promise.all(pairs.map(async ([e, h], i) => await attempt(e, h, round * parallel + i))))
    }
    await onlyTalkedTo(easyHost, [stun.ip, lab.natOf(hardHost)?.wanIp ?? ''])
    await onlyTalkedTo(hardHost, [stun.ip, lab.natOf(easyHost)?.wanIp ?? ''])
    const okMs = outcomes.filter(o => o.ok).map(o => Math.round(o.ms))
    table.push({
      pairing: name,
      ok: okMs.length,
      n: outcomes.length,
      p50: quantile(okMs, 0.5),
      p90: quantile(okMs, 0.9),
      max: Math.max(...okMs, 0),
      within5s: okMs.filter(ms => ms <= 5000).length,
      easySent: Math.max(...outcomes.map(o => o.easySent)),
      hardSent: Math.max(...outcomes.map(o => o.hardSent))
    })
    console.log(`hole punch ${name}: ${okMs.length}/${outcomes.length} direct; ms ${okMs.join(',')}; hints ${outcomes.map(o => o.hint != null ? `${o.hint.before}..${o.hint.after}→${o.remotePort ?? '-'}` : '-').join(' ')}`)
    // the packet budget holds on both sides
    for (const o of outcomes) {
      expect(o.easySent).toBeLessThanOrEqual(EASY_MAX_PROBES + 3)
      expect(o.hardSent).toBeLessThanOrEqual(HARD_SOCKETS * (1 + Math.floor(PUNCH_TIMEOUT / HARD_RESEND_INTERVAL)) + 3 + 4)
    }
    return outcomes
  }

  it('EIM ↔ symmetric (random ports): direct in ≥ 90 % of 20 attempts within 5 s', async () => {
    const outcomes = await pairing('EIM ↔ symmetric', 'eim', 'sym')
    // a random NAT is not taken for a sequential one: no probes are spent on predictions
    expect(outcomes.filter(o => o.hint != null)).toHaveLength(0)
    expect(outcomes.filter(o => o.ok && o.ms <= 5000).length).toBeGreaterThanOrEqual(Math.ceil(ATTEMPTS * 0.9))
  }, ATTEMPTS * (ATTEMPT_MS + 2000))

  it('EIM ↔ sequential symmetric: the ports between two STUN answers are predicted, every attempt direct', async () => {
    const outcomes = await pairing('EIM ↔ sequential', 'eim', 'seq')
    expect(outcomes.every(o => o.ok)).toBe(true)
    // nothing else crosses the lab's NAT meanwhile, so the prediction is exact: the first port
    // probed answers. When the NAT's sequence wrapped (after SEQUENTIAL_PORTS flows) between
    // the two STUN answers, both ends of the wrap are guessed, and one of them answers.
    expect(outcomes.every(o => o.hint != null)).toBe(true)
    const wrapped = outcomes.filter(o => o.hint != null && o.hint.after < o.hint.before)
    expect(wrapped.length).toBeLessThanOrEqual(Math.ceil(ATTEMPTS * (HARD_SOCKETS + 2) / SEQUENTIAL_PORTS))
    for (const o of outcomes) {
      const hint = o.hint ?? { before: 0, after: 0 }
      if (wrapped.includes(o)) expect(predictedPorts(hint)).toContain(o.remotePort)
      else expect(o.remotePort).toBe(hint.before + 1)
      expect(o.ms).toBeLessThan(5000)
    }
  }, ATTEMPTS * (ATTEMPT_MS + 2000))

  it('WebRTC (node-datachannel) carried on the punched ports: ICE bound to them connects EIM ↔ symmetric', async () => {
    const easy = await agent('eim')
    const hard = await agent('sym')
    const times: number[] = []
    const n = 10
    for (let id = 1000; id < 1000 + n; id++) {
      const t0 = performance.now()
      cmd(easy, { cmd: 'bind', id, stun })
      const m = await easy.waitFor(is('mapping', id), 5000)
      const token = randomBytes(16).toString('hex')
      cmd(hard, { cmd: 'hard', id, peer: { ip: m.ip, port: m.port }, token, stun })
      const h = await hard.waitFor(is('hint', id), 5000)
      cmd(easy, { cmd: 'easy', id, peerIp: h.publicIp, token })
      const [er, hr] = await Promise.all([easy.waitFor(is('result', id), ATTEMPT_MS), hard.waitFor(is('result', id), ATTEMPT_MS)])
      expect(er.ok && hr.ok).toBe(true)
      // the hard side offers from its punched port, the easy side answers from its own
      cmd(hard, { cmd: 'rtc', id, stun })
      const offer = await hard.waitFor(is('rtc-local', id), 10_000)
      cmd(easy, { cmd: 'rtc-remote', id, stun, sdp: offer.sdp, type: offer.type, candidates: offer.candidates })
      const answer = await easy.waitFor(is('rtc-local', id), 10_000)
      cmd(hard, { cmd: 'rtc-remote', id, sdp: answer.sdp, type: answer.type, candidates: answer.candidates })
      const [eo] = await Promise.all([easy.waitFor(is('rtc-open', id), 15_000), hard.waitFor(is('rtc-open', id), 15_000)])
      times.push(Math.round(performance.now() - t0))
      await Promise.all([easy.waitFor(is('rtc-heard', id), 5000), hard.waitFor(is('rtc-heard', id), 5000)])
      // the easy side talks to the hard side's punched port: the pair the birthday probes found
      expect((eo.pair as { remote: { address: string, port: number } }).remote).toMatchObject({ address: h.publicIp, port: (er.remote as { port: number }).port })
      cmd(easy, { cmd: 'reset', id })
      cmd(hard, { cmd: 'reset', id })
      await Promise.all([easy.waitFor(is('reset', id), 5000), hard.waitFor(is('reset', id), 5000)])
    }
    console.log(`hole punch + WebRTC on the punched ports, EIM ↔ symmetric: ${times.length}/${n} data channels open; ms to open ${times.join(',')}`)

    // control: the same WebRTC without the punch (ICE on ports of its own choice) does not connect
    const id = 999
    cmd(hard, { cmd: 'rtc', id, stun })
    const offer = await hard.waitFor(is('rtc-local', id), 10_000)
    cmd(easy, { cmd: 'rtc-remote', id, stun, sdp: offer.sdp, type: offer.type, candidates: offer.candidates })
    const answer = await easy.waitFor(is('rtc-local', id), 10_000)
    cmd(hard, { cmd: 'rtc-remote', id, sdp: answer.sdp, type: answer.type, candidates: answer.candidates })
    expect(await easy.noneWithin(is('rtc-open', id), 10_000)).toBe(true)
    cmd(easy, { cmd: 'reset', id })
    cmd(hard, { cmd: 'reset', id })
  }, 11 * (ATTEMPT_MS + 20_000))

  for (const [shareHost, connectHost] of [['sym', 'eim'], ['eim', 'sym']] as const) {
    it(`coordinated over a limited relay (/beam/punch/1.0.0): share behind ${shareHost}, connector behind ${connectHost}`, async () => {
      const relay = await startStockNode(lab, 'relay')
      const natOf = (h: string): string => h === 'eim' ? 'easy' : 'hard'
      const children: ChildProcess[] = []
      const spawnPeer = (host: string, args: string[]): JsonLines => {
        const child = lab.spawn(host, [process.execPath, `--import=${HOOK}`, PEER, ...args], { env: { [LAB_PUBLIC_CIDRS_ENV]: `${PUBLIC_NET}.0/24` } })
        children.push(child)
        return new JsonLines(child)
      }
      const stunArg = `${stun.ip}:${stun.port}`
      const share = spawnPeer(shareHost, ['share', relay.addr, stunArg, natOf(shareHost)])
      const ready = await share.waitFor(l => l.event === 'ready', 20_000)
      await share.waitFor(l => l.event === 'reserved', 20_000)
      const n = 5
      const connector = spawnPeer(connectHost, ['connect', relay.addr, stunArg, natOf(connectHost), String(ready.peerId), String(n)])
      const connected = await connector.waitFor(l => l.event === 'connected', 20_000)
      // the only connection is the stock relay's limited one: the punch is signalling on it
      expect(connected.limited).toBe(true)
      await connector.waitFor(l => l.event === 'finished', n * ATTEMPT_MS)
      const results = connector.lines.filter(l => l.event === 'result')
      console.log(`hole punch over a limited relay, share ${shareHost}, connector ${connectHost}: ${results.map(r => r.ok === true ? `${String(r.totalMs)} ms` : String(r.error)).join('; ')}`)
      expect(results.filter(r => r.ok === true).length).toBeGreaterThanOrEqual(n - 1)
      for (const r of results.filter(r => r.ok === true)) {
        const attempt = r.attempt
        // both sides hold the pair, and it carries a datagram each way
        await share.waitFor(l => l.event === 'result' && l.attempt === attempt && l.ok === true && l.limited === true, 5000)
        await share.waitFor(l => l.event === 'heard' && l.attempt === attempt, 5000)
        await connector.waitFor(l => l.event === 'heard' && l.attempt === attempt, 5000)
      }
      for (const c of [...children, relay.child]) c.kill('SIGTERM')
    }, 5 * ATTEMPT_MS + 60_000)
  }

  it('a libp2p WebRTC connection on the punched ports (@libp2p/webrtc, ICE bound to them): direct, unlimited, DTLS fingerprints signalled over the Noise-authenticated relayed connection', async () => {
    const relay = await startStockNode(lab, 'relay')
    const children: ChildProcess[] = []
    const spawnPeer = (host: string, args: string[]): JsonLines => {
      const child = lab.spawn(host, [process.execPath, `--import=${HOOK}`, PEER, ...args], { env: { [LAB_PUBLIC_CIDRS_ENV]: `${PUBLIC_NET}.0/24` } })
      children.push(child)
      return new JsonLines(child)
    }
    const stunArg = `${stun.ip}:${stun.port}`
    const share = spawnPeer('sym', ['share', relay.addr, stunArg, 'hard', 'webrtc'])
    const ready = await share.waitFor(l => l.event === 'ready', 20_000)
    await share.waitFor(l => l.event === 'reserved', 20_000)
    const n = 5
    const connector = spawnPeer('eim', ['connect', relay.addr, stunArg, 'easy', String(ready.peerId), String(n), 'webrtc'])
    await connector.waitFor(l => l.event === 'finished', n * (ATTEMPT_MS + 15_000))
    const results = connector.lines.filter(l => l.event === 'webrtc')
    console.log(`hole punch + @libp2p/webrtc over a limited relay, share sym, connector eim: ${JSON.stringify(connector.lines.filter(l => l.event === 'webrtc' || (l.event === 'result' && l.ok !== true)))}`)
    for (const r of results) {
      expect(r.limited).toBe(false)
      expect(String(r.remote)).toContain('/webrtc')
      // more than the limited relay lets through: the bytes went over the punched pair
      expect(r.echoed).toBe(1 << 20)
    }
    expect(results.length).toBeGreaterThanOrEqual(n - 1)
    for (const c of [...children, relay.child]) c.kill('SIGTERM')
  }, 5 * (ATTEMPT_MS + 15_000) + 60_000)

  it('symmetric ↔ symmetric: the method does not apply; every attempt fails within its budget', async () => {
    // the "easy" side's STUN mapping is not the one the peer sees, so no probe can match
    const outcomes = await pairing('symmetric ↔ symmetric', 'sym2', 'sym', 4)
    expect(outcomes.filter(o => o.ok)).toHaveLength(0)
  }, (ATTEMPTS / 4 + 1) * (ATTEMPT_MS + 2000))
})
