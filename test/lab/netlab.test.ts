/**
 * Proves the NAT lab itself (test/lab/netlab.ts): address plan, NAT mapping
 * behaviour (endpoint-independent vs symmetric), WAN-side filtering, TCP through
 * the NAT, link cuts, sweeping and teardown. Needs root, iproute2, iptables and
 * conntrack; skips loudly otherwise, and fails in CI
 * (test/helpers/require-tools.ts).
 */
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { LAB_REGISTRY_DIR, SEQUENTIAL_BASE_PORT, SEQUENTIAL_PORTS, bin, createLab, labAvailable, listNetns, sweepStaleLabs } from './netlab.ts'
import type { Lab } from './netlab.ts'
import { JsonLines, UDP_REFLECTOR } from './udp-reflector.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'
import type { JsonLine } from './udp-reflector.ts'

const avail = await labAvailable()

const REFLECTOR_PORTS = [3478, 3479, 3480]
/** How long "nothing arrives" is watched for. Lab RTTs are well under 1 ms. */
const SILENCE_MS = 600


const isRecv = (text: string) => (l: JsonLine): boolean => l.event === 'recv' && l.text === text

describe.skipIf(suiteNeeds('NAT lab tests (root, iproute2, iptables, conntrack)', avail))('netlab: NAT lab of network namespaces', () => {
  let lab: Lab
  let createMs = 0
  let reflector: JsonLines

  /** A UDP agent (socket bound to `port`) in `host`, ready to take `send` commands. */
  async function agent (host: string, port: number): Promise<JsonLines> {
    const a = new JsonLines(lab.spawn(host, [process.execPath, UDP_REFLECTOR, 'agent', String(port)]))
    await a.waitFor(l => l.event === 'ready')
    return a
  }

  /** Ask the reflector (on pub) what address `a`'s datagrams come from. */
  async function whoami (a: JsonLines, reflectorPort: number): Promise<{ from: string, port: number }> {
    const tag = `whoami-${reflectorPort}-${randomBytes(3).toString('hex')}`
    a.send(`send ${lab.hosts.pub?.ip ?? ''} ${reflectorPort} ${tag}`)
    const line = await a.waitFor(l => l.event === 'recv' && typeof l.text === 'string' && l.text.includes(tag))
    const seen = JSON.parse(String(line.text)) as { from: string, port: number, to: number }
    expect(seen.to).toBe(reflectorPort)
    return { from: seen.from, port: seen.port }
  }

  beforeAll(async () => {
    const t0 = Date.now()
    lab = await createLab({ hosts: [{ name: 'pub' }, { name: 'eim', nat: 'eim' }, { name: 'sym', nat: 'symmetric' }, { name: 'seq', nat: 'sequential' }] })
    createMs = Date.now() - t0
    console.log(`netlab: lab ${lab.prefix} created in ${createMs} ms`)
    reflector = new JsonLines(lab.spawn('pub', [process.execPath, UDP_REFLECTOR, 'reflect', ...REFLECTOR_PORTS.map(String)]))
    await reflector.waitFor(l => l.event === 'ready')
  })

  afterAll(async () => {
    await lab?.teardown()
  })

  it('builds the address plan: a public host, NATed hosts behind their own routers', async () => {
    expect(createMs).toBeLessThan(5000)
    const { pub, eim, sym } = lab.hosts
    expect(pub).toMatchObject({ ip: '198.51.100.11', publicIp: '198.51.100.11' })
    expect(eim).toMatchObject({ ip: '10.2.0.2', publicIp: '198.51.100.12', nat: 'eim' })
    expect(sym).toMatchObject({ ip: '10.3.0.2', publicIp: '198.51.100.13', nat: 'symmetric' })
    expect(lab.natOf('pub')).toBeUndefined()
    expect(lab.natOf('eim')).toMatchObject({ wanIp: '198.51.100.12', kind: 'eim' })
    const names = await listNetns()
    for (const h of [pub, eim, sym]) expect(names).toContain(h?.ns)
    expect(names).toContain(lab.natOf('eim')?.ns)
    expect(names).toContain(lab.inetNs)
    for (const n of names.filter(x => x.startsWith(lab.prefix))) expect(n).toMatch(/^bl[0-9a-f]{4}-/)
  })

  it('EIM NAT keeps one mapped port for every destination; symmetric NAT picks a new one per destination', async () => {
    const e = await agent('eim', 40000)
    const s = await agent('sym', 40000)
    const eSeen = []
    const sSeen = []
    for (const p of REFLECTOR_PORTS) {
      eSeen.push(await whoami(e, p))
      sSeen.push(await whoami(s, p))
    }
    console.log(`netlab: eim mapped ports ${eSeen.map(x => x.port).join(',')}; symmetric mapped ports ${sSeen.map(x => x.port).join(',')}`)
    for (const x of eSeen) expect(x.from).toBe(lab.natOf('eim')?.wanIp)
    for (const x of sSeen) expect(x.from).toBe(lab.natOf('sym')?.wanIp)
    // endpoint-independent mapping, and MASQUERADE preserves the source port when it is free
    expect(new Set(eSeen.map(x => x.port))).toEqual(new Set([40000]))
    // --random-fully: a fresh random port per new flow
    expect(new Set(sSeen.map(x => x.port)).size).toBeGreaterThan(1)
  })

  it('drops unsolicited inbound; after the inner host sent to an endpoint, that endpoint (only) gets in', async () => {
    const wan = lab.natOf('eim')?.wanIp ?? ''
    const inner = await agent('eim', 41000)
    const mapped = (await whoami(inner, 3478)).port
    const outside = await agent('pub', 5000)
    const other = await agent('pub', 5001)

    // 1. nothing sent to pub:5000 yet: the router drops it (INPUT -i wan … DROP)
    outside.send(`send ${wan} ${mapped} unsolicited`)
    expect(await inner.noneWithin(isRecv('unsolicited'), SILENCE_MS)).toBe(true)

    // 2. the inner host punches: sends to pub:5000 from the same socket; same mapped port (EIM)
    inner.send(`send ${lab.hosts.pub?.ip ?? ''} 5000 punch`)
    const punch = await outside.waitFor(isRecv('punch'))
    expect(punch).toMatchObject({ from: wan, port: mapped })

    // 3. now pub:5000 gets in
    outside.send(`send ${wan} ${mapped} after-punch`)
    await inner.waitFor(isRecv('after-punch'))

    // 4. but another port of the same public host still does not:
    //    address-and-port-dependent filtering (conntrack matches the full 5-tuple)
    other.send(`send ${wan} ${mapped} other-port`)
    expect(await inner.noneWithin(isRecv('other-port'), SILENCE_MS)).toBe(true)

    const ct = await lab.conntrack('eim')
    expect(ct).toMatch(new RegExp(`udp .*src=${lab.hosts.eim?.ip ?? ''} dst=${lab.hosts.pub?.ip ?? ''} sport=41000 dport=5000 .*src=${lab.hosts.pub?.ip ?? ''} dst=${wan} sport=5000 dport=${mapped}`))
  })

  it('symmetric NAT: the port learnt from a reflector is useless to a third party', async () => {
    const wan = lab.natOf('sym')?.wanIp ?? ''
    const inner = await agent('sym', 42000)
    const viaReflector = (await whoami(inner, 3478)).port
    const outside = await agent('pub', 5002)
    inner.send(`send ${lab.hosts.pub?.ip ?? ''} 5002 punch`)
    const punch = await outside.waitFor(isRecv('punch'))
    console.log(`netlab: symmetric mapping: ${viaReflector} towards the reflector, ${String(punch.port)} towards pub:5002`)
    expect(punch.from).toBe(wan)
    expect(punch.port).not.toBe(viaReflector)
    outside.send(`send ${wan} ${viaReflector} to-reflector-mapping`)
    expect(await inner.noneWithin(isRecv('to-reflector-mapping'), SILENCE_MS)).toBe(true)
    outside.send(`send ${wan} ${String(punch.port)} to-own-mapping`)
    await inner.waitFor(isRecv('to-own-mapping'))
  })

  it('sequential NAT: a new UDP port per destination, in sequence; the next one is predictable and only the peer it was made for gets in', async () => {
    const wan = lab.natOf('seq')?.wanIp ?? ''
    expect(lab.natOf('seq')).toMatchObject({ kind: 'sequential' })
    const a = await agent('seq', 44000)
    const b = await agent('seq', 44001)
    const seen: number[] = []
    for (const p of REFLECTOR_PORTS) seen.push((await whoami(a, p)).port)
    seen.push((await whoami(b, 3478)).port)
    console.log(`netlab: sequential mapped ports ${seen.join(',')}`)
    // one socket, three destinations: three ports; a second socket takes the next one
    for (const port of seen) expect(port).toBeGreaterThanOrEqual(SEQUENTIAL_BASE_PORT)
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBe(((seen[0] ?? 0) - SEQUENTIAL_BASE_PORT + i) % SEQUENTIAL_PORTS + SEQUENTIAL_BASE_PORT)
    // the next flow is predictable: the port after the last one a reflector reported
    const predicted = ((seen.at(-1) ?? 0) - SEQUENTIAL_BASE_PORT + 1) % SEQUENTIAL_PORTS + SEQUENTIAL_BASE_PORT
    const outside = await agent('pub', 5003)
    outside.send(`send ${wan} ${predicted} too-early`)
    expect(await a.noneWithin(isRecv('too-early'), SILENCE_MS)).toBe(true)
    a.send(`send ${lab.hosts.pub?.ip ?? ''} 5003 punch`)
    expect(await outside.waitFor(isRecv('punch'))).toMatchObject({ from: wan, port: predicted })
    outside.send(`send ${wan} ${predicted} to-own-mapping`)
    await a.waitFor(isRecv('to-own-mapping'))
    // still symmetric: the reflector's mapping does not let pub:5003 in
    outside.send(`send ${wan} ${seen[0] ?? 0} to-reflector-mapping`)
    expect(await a.noneWithin(isRecv('to-reflector-mapping'), SILENCE_MS)).toBe(true)
  })

  it('TCP from a NATed host reaches the public host from the WAN address; conntrack lists the flow', async () => {
    const server = new JsonLines(lab.spawn('pub', [process.execPath, '-e', `
      const net = require('node:net')
      const srv = net.createServer(s => { s.end(JSON.stringify({ event: 'peer', from: s.remoteAddress, port: s.remotePort }) + '\\n') })
      srv.listen(8080, '0.0.0.0', () => console.log(JSON.stringify({ event: 'ready' })))
    `]))
    await server.waitFor(l => l.event === 'ready')
    for (const host of ['eim', 'sym']) {
      const r = await lab.exec(host, [process.execPath, '-e', `
        const net = require('node:net')
        const s = net.connect(8080, ${JSON.stringify(lab.hosts.pub?.ip)}, () => {})
        let buf = ''
        s.setEncoding('utf8').on('data', d => { buf += d }).on('end', () => { process.stdout.write(buf); s.destroy() })
        s.on('error', e => { console.error(e.message); process.exit(1) })
      `], { timeoutMs: 5000 })
      expect(r.code, r.stderr).toBe(0)
      const seen = JSON.parse(r.stdout) as { from: string, port: number }
      expect(seen.from).toBe(lab.natOf(host)?.wanIp)
      const ct = await lab.conntrack(host)
      expect(ct).toMatch(new RegExp(`tcp .*src=${lab.hosts[host]?.ip ?? ''} dst=${lab.hosts.pub?.ip ?? ''} sport=\\d+ dport=8080 .*src=${lab.hosts.pub?.ip ?? ''} dst=${lab.natOf(host)?.wanIp ?? ''} sport=8080 dport=${seen.port} `))
    }
    // the public host has no router
    await expect(lab.conntrack('pub')).rejects.toThrow(/public/)
  })

  it('setNatDown cuts the WAN link and restores it', async () => {
    const a = await agent('eim', 43000)
    await whoami(a, 3479)
    await lab.setNatDown('eim', true)
    a.send(`send ${lab.hosts.pub?.ip ?? ''} 3479 while-down`)
    expect(await a.noneWithin(l => l.event === 'recv' && String(l.text).includes('while-down'), SILENCE_MS)).toBe(true)
    await lab.setNatDown('eim', false)
    // bounded retries: the bridge port forwards again at once (no STP)
    const deadline = Date.now() + 5000
    let back = false
    for (let i = 0; !back && Date.now() < deadline; i++) {
      const from = a.lines.length
      a.send(`send ${lab.hosts.pub?.ip ?? ''} 3479 back-${i}`)
      back = !(await a.noneWithin(l => l.event === 'recv' && String(l.text).includes(`back-${i}`), 300, from))
    }
    expect(back).toBe(true)
    // a flushed NAT forgets its mappings: the next flow is new again
    await lab.flushNat('eim')
    expect(await lab.conntrack('eim')).not.toMatch(/sport=43000/)
  })

  it('sweepStaleLabs removes leftovers of dead owners only', async () => {
    const present = new Set((await listNetns()).map(n => n.slice(0, 6)))
    const freshId = (): string => {
      for (;;) {
        const id = 'bl' + randomBytes(2).toString('hex')
        if (!present.has(id) && !existsSync(join(LAB_REGISTRY_DIR, `${id}.json`))) return id
      }
    }
    // a leftover without an owner record, and one whose owner is alive
    const orphan = freshId()
    const owned = freshId()
    const sleeper: ChildProcess = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' })
    try {
      const pid = sleeper.pid ?? 0
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
      mkdirSync(LAB_REGISTRY_DIR, { recursive: true })
      writeFileSync(join(LAB_REGISTRY_DIR, `${owned}.json`), JSON.stringify({ pid, startTime, created: new Date().toISOString() }))
      execFileSync(bin('ip'), ['netns', 'add', `${orphan}-x`])
      execFileSync(bin('ip'), ['netns', 'add', `${owned}-x`])

      const removed = await sweepStaleLabs()
      expect(removed).toContain(`${orphan}-x`)
      expect(removed).not.toContain(`${owned}-x`)
      const names = await listNetns()
      expect(names).not.toContain(`${orphan}-x`)
      expect(names).toContain(`${owned}-x`)
      // the live lab of this process is spared
      expect(names).toContain(lab.inetNs)

      // the owner dies: now it is stale
      sleeper.kill('SIGKILL')
      await new Promise(resolve => sleeper.once('exit', resolve))
      expect(await sweepStaleLabs(owned)).toEqual([`${owned}-x`])
      expect(existsSync(join(LAB_REGISTRY_DIR, `${owned}.json`))).toBe(false)
      await expect(sweepStaleLabs('xx')).rejects.toThrow(/prefix/)
    } finally {
      if (sleeper.exitCode == null && sleeper.signalCode == null) sleeper.kill('SIGKILL')
      for (const ns of [`${orphan}-x`, `${owned}-x`]) {
        try { execFileSync(bin('ip'), ['netns', 'del', ns], { stdio: 'ignore' }) } catch { /* gone */ }
      }
      rmSync(join(LAB_REGISTRY_DIR, `${owned}.json`), { force: true })
    }
  })

  it('teardown kills spawned processes and deletes every namespace of the lab; twice is fine', async () => {
    const long = lab.spawn('pub', [process.execPath, '-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
    const mine = (await listNetns()).filter(n => n.startsWith(lab.prefix))
    expect(mine.length).toBe(8) // inet, pub, eim, eim-nat, sym, sym-nat, seq, seq-nat
    const t0 = Date.now()
    await lab.teardown()
    const ms = Date.now() - t0
    console.log(`netlab: teardown in ${ms} ms`)
    expect(ms).toBeLessThan(5000)
    expect(long.exitCode != null || long.signalCode != null).toBe(true)
    expect((await listNetns()).filter(n => n.startsWith(lab.prefix))).toEqual([])
    expect(existsSync(join(LAB_REGISTRY_DIR, `${lab.prefix.slice(0, -1)}.json`))).toBe(false)
    await lab.teardown()
    expect(() => lab.spawn('pub', ['true'])).toThrow(/torn down/)
  })
})
