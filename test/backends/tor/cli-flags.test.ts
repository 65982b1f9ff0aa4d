/**
 * `beam backends` against running and stopped Tor control ports, the Tor
 * flags' error handling, --tor-persistent, --tor-launch, and a control test
 * showing that the leak check does see clearnet sockets when they exist.
 */
import { execFile } from 'node:child_process'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it, expect, inject, afterAll } from 'vitest'
import { defaultBackends } from '../../../src/backends/index.ts'
import { runBeam, tempHome } from '../../helpers/beam.ts'
import { runCli } from '../../../src/cli/program.ts'
import { encodeConnectString } from '../../../src/peer/index.ts'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { freePort } from './tor-network.ts'
import { startBlobServer, fetchThrough } from './blob.ts'
import { readTrace, startTraced, straceNeed } from '../strace.ts'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'
import { BeamProcess } from '../../helpers/beam.ts'
import { guardEnv } from '../../helpers/guard.ts'

const tor = inject('torNetwork')
const skipTor = suiteNeeds('Tor tests', need(tor != null, inject('torSkipReason')))

async function runInProcess (args: string[], env: Record<string, string>): Promise<{ code: number, stdout: string, stderr: string }> {
  let stderr = ''
  let stdout = ''
  const code = await runCli(args, {
    stdout: { write: (s: string) => { stdout += s; return true } },
    stderr: { write: (s: string) => { stderr += s; return true } },
    env: { ...guardEnv(), ...env },
    signal: new AbortController().signal,
    stderrIsTTY: false
  })
  return { code, stdout, stderr }
}

/** Pids whose command line contains `text` (looking only; nothing is killed). */
async function pgrepF (text: string): Promise<string[]> {
  return await new Promise(resolve => {
    execFile('pgrep', ['-f', text], (_err, stdout) => { resolve(stdout.split('\n').filter(l => l.trim() !== '')) })
  })
}
const homes: Array<{ dir: string, cleanup: () => Promise<void> }> = []
afterAll(async () => { for (const h of homes) await h.cleanup() })

async function home (): Promise<string> {
  const h = await tempHome()
  homes.push(h)
  return h.dir
}

function torRow (stdout: string): { status: string, reason: string | null } {
  const row = stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as { name: string, status: string, reason: string | null }).find(r => r.name === 'tor')
  if (row == null) throw new Error(`no tor row in: ${stdout}`)
  return row
}

describe.skipIf(skipTor)('beam backends with Tor', () => {
  it('shows tor ready on a running control port (no auth, cookie, password), not-running on a closed one or a refused password', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [cookie, none, password] = tor.clients
    if (cookie == null || none == null || password?.password == null) throw new Error('too few clients')
    const env = { BEAM_HOME: await home() }
    const closed = await freePort()
    // in-process (the control-port checks are real); the last one also as a real process, for its text output
    const runs: Array<{ code: number | null, stdout: string, stderr: string }> = []
    const argvs = [
      ['backends', '--json', '--tor-control', `127.0.0.1:${cookie.controlPort}`],
      ['backends', '--json', '--tor-control', String(none.controlPort)],
      ['backends', '--json', '--tor-control', `127.0.0.1:${password.controlPort}`, '--tor-password', password.password],
      ['backends', '--json', '--tor-control', `127.0.0.1:${password.controlPort}`]
    ]
    for (const argv of argvs) runs.push(await runInProcess(argv, env))
    runs.push(await runBeam(['backends', '--tor-control', `127.0.0.1:${closed}`], env, 90_000))
    const [a, b, withPw, noPw, stopped] = runs
    if (a == null || b == null || withPw == null || noPw == null || stopped == null) throw new Error('missing run')
    for (const r of [a, b]) {
      expect(r.code).toBe(0)
      expect(torRow(r.stdout)).toMatchObject({ status: 'ready' })
      expect(torRow(r.stdout).reason).toMatch(/^tor 0\.\d/)
    }
    expect(torRow(withPw.stdout).status).toBe('ready')
    expect(torRow(noPw.stdout)).toMatchObject({ status: 'not-running' })
    expect(torRow(noPw.stdout).reason).toMatch(/password/)
    expect(stopped.code).toBe(0)
    expect(stopped.stdout).toMatch(new RegExp(`^tor\\s+not-running\\s+no Tor control port at 127\\.0\\.0\\.1:${closed} \\(connection refused\\)`, 'm'))
  })
})

describe('Tor flags: bad values are one clear line and a distinct exit code', () => {
  it('refuses malformed or conflicting flags', async () => {
    const env = { BEAM_HOME: await home() }
    const cases: Array<{ args: string[], code: number, msg: RegExp }> = [
      { args: ['share', '3000', '--tor', '--tor-control', 'localhost:9051'], code: 2, msg: /give an IP address, not a name/ },
      { args: ['share', '3000', '--tor', '--tor-socks', '127.0.0.1:99999'], code: 2, msg: /expected IP:PORT or PORT/ },
      { args: ['share', '3000', '--backend', 'nosuch'], code: 2, msg: /unknown backend 'nosuch'/ },
      { args: ['share', '3000', '--tor', '--backend', 'direct'], code: 2, msg: /one of --backend, --backends, --tor, --ator and --i2p/ },
      { args: ['share', '3000', '--tor-control', '9051'], code: 2, msg: /need the tor backend/ },
      { args: ['share', '3000', '--tor', '--listen', '/ip4/0.0.0.0/tcp/0'], code: 2, msg: /opens no clearnet listener/ },
      { args: ['share', '3000', '--tor', '--tor-launch', '--tor-control', '9051'], code: 2, msg: /--tor-launch starts its own tor/ },
      { args: ['connect', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '--tor'], code: 4, msg: /give the connect string/ },
      { args: ['connect', '12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN', '--tor', '--fallback'], code: 2, msg: /--fallback needs two or more/ },
      { args: ['share', '3000', '--tor', '--onion-port', '0'], code: 2, msg: /--onion-port/ },
      // the connect string of a direct-only share, used with --tor
      { args: ['connect', encodeConnectString({ peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')] }), '--tor'], code: 4, msg: /has no tor address/ }
    ]
    const closed = await freePort()
    cases.push({ args: ['3000', '--tor', '--tor-control', `127.0.0.1:${closed}`], code: 13, msg: /backend tor is not running: no Tor control port/ })
    const notImplemented = defaultBackends().list().find(b => b.name !== 'direct' && b.transport == null)
    if (notImplemented != null) cases.push({ args: ['share', '3000', '--backend', notImplemented.name], code: 13, msg: new RegExp(`backend '${notImplemented.name}' cannot be used`) })
    // in-process (runCli is what bin/beam.js runs; its return value is the exit code) …
    for (const c of cases) {
      const r = await runInProcess(c.args, env)
      const lines = r.stderr.split('\n').filter(l => l.startsWith('beam: '))
      expect({ args: c.args.join(' '), code: r.code }).toEqual({ args: c.args.join(' '), code: c.code })
      expect(lines.length, r.stderr).toBe(1)
      expect(lines[0]).toMatch(c.msg)
      expect(r.stderr).not.toMatch(/\n\s+at /)
    }
    // … and two through a real process, for the process exit code itself
    const real = await Promise.all([cases[0], cases.find(c => c.code === 13)].map(async c => c != null ? { c, r: await runBeam(c.args, env, 90_000) } : undefined))
    for (const x of real) {
      if (x == null) continue
      expect(x.r.code).toBe(x.c.code)
      expect(x.r.stderr).toMatch(x.c.msg)
    }
  })
})

describe.skipIf(skipTor)('beam share --tor-persistent and --tor-launch', () => {
  it('--tor-persistent keeps the onion address across runs, in a 0600 key file', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const c = tor.clients[0]
    if (c == null) throw new Error('no client')
    const h = await home()
    const onions: string[] = []
    for (let i = 0; i < 2; i++) {
      const p = new BeamProcess(['share', '3000', '--tor', '--tor-persistent', '--tor-control', `127.0.0.1:${c.controlPort}`, '--json'], { BEAM_HOME: h })
      try {
        const ready = await p.waitFor('ready', 60_000)
        onions.push(String((ready.multiaddrs as string[])[0]))
      } finally {
        await p.stop()
      }
    }
    expect(onions[0]).toMatch(/^\/onion3\/[a-z2-7]{56}:4001$/)
    expect(onions[1]).toBe(onions[0])
    const st = await stat(join(h, 'tor', 'onion-key'))
    expect(st.mode & 0o777).toBe(0o600)
  })

  it('--tor-client-auth new: only a connector with --tor-client-key finds the onion', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [sharerTor, , connTor] = tor.clients
    if (sharerTor == null || connTor?.password == null) throw new Error('no client')
    const blob = await startBlobServer(Buffer.alloc(64 * 1024, 3))
    const share = new BeamProcess(['share', String(blob.port), '--tor', '--tor-client-auth', 'new', '--tor-control', `127.0.0.1:${sharerTor.controlPort}`, '--json'], { BEAM_HOME: await home() })
    let connect: BeamProcess | undefined
    try {
      const ready = await share.waitFor('ready', 60_000)
      const keys = ready.torClientKeys as string[]
      expect(keys.length).toBe(1)
      const socks = `127.0.0.1:${connTor.socksPort}`
      const denied = await runBeam(['connect', String(ready.connect), '--tor', '--tor-socks', socks, '--timeout', '40000'], { BEAM_HOME: await home() }, 60_000)
      expect(denied.code).toBe(9)
      expect(denied.stderr).toMatch(/client authorization/)
      connect = new BeamProcess(['connect', String(ready.connect), '--tor', '--tor-socks', socks, '--tor-control', `127.0.0.1:${connTor.controlPort}`, '--tor-password', connTor.password,
        '--tor-client-key', keys[0] ?? '', '--timeout', '40000', '--json'], { BEAM_HOME: await home() })
      const listening = await connect.waitFor('listening', 50_000)
      const res = await fetchThrough(Number(listening.port), Buffer.from('x'))
      expect(res.receivedSha).toBe(blob.sha)
    } finally {
      await connect?.stop()
      await share.stop()
      await blob.close()
    }
  })

  it('--tor-launch starts a tor of its own (joining the private network through --tor-launch-config) and serves a connector', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const connTor = tor.clients[1]
    if (connTor == null) throw new Error('no client')
    const h = await home()
    const extra = join(h, 'test-network.torrc')
    await writeFile(extra, tor.networkTorrc)
    const blob = await startBlobServer(Buffer.alloc(256 * 1024, 7))
    const share = new BeamProcess(['share', String(blob.port), '--tor', '--tor-launch', '--tor-launch-config', extra, '--json'], { BEAM_HOME: h })
    let connect: BeamProcess | undefined
    try {
      const start = Date.now()
      const ready = await share.waitFor('ready', 110_000)
      const launchMs = Date.now() - start
      connect = new BeamProcess(['connect', String(ready.connect), '--tor', '--tor-socks', `127.0.0.1:${connTor.socksPort}`, '--timeout', '60000', '--json'], { BEAM_HOME: await home() })
      const listening = await connect.waitFor('listening', 70_000)
      const res = await fetchThrough(Number(listening.port), Buffer.from('x'))
      expect(res.receivedSha).toBe(blob.sha)
      process.stderr.write(`cli: --tor-launch share ready (own tor bootstrapped, onion published) in ${launchMs} ms\n`)
    } finally {
      await connect?.stop()
      await share.stop()
      await blob.close()
    }
    // the launched tor (its torrc is in this test's home) went with beam
    const torrc = join(h, 'tor', 'launched', 'torrc')
    expect((await stat(torrc)).isFile()).toBe(true)
    const deadline = Date.now() + 10_000
    let running = true
    while (running && Date.now() < deadline) {
      running = (await pgrepF(torrc)).length > 0
      if (running) await new Promise(resolve => setTimeout(resolve, 200))
    }
    expect(running).toBe(false)
  })
})

describe.skipIf(skipTor)('beam with --backends tor,direct', () => {
  it('a mixed share is reachable over both; connect --fallback tries the networks in the order given and falls back when Tor fails', async () => {
    if (tor == null) throw new Error('no private Tor network (the suite should have been skipped)')
    const [sharerTor, connTor] = tor.clients
    if (sharerTor == null || connTor == null) throw new Error('no client')
    const blob = await startBlobServer(Buffer.alloc(128 * 1024, 5))
    const share = new BeamProcess(['share', String(blob.port), '--backends', 'tor,direct', '--tor-control', `127.0.0.1:${sharerTor.controlPort}`,
      '--listen', '/ip4/127.0.0.1/tcp/0', '--no-default-bootstrap', '--json'], { BEAM_HOME: await home() })
    try {
      const ready = await share.waitFor('ready', 60_000)
      const addrs = ready.multiaddrs as string[]
      expect(addrs.some(a => a.startsWith('/onion3/'))).toBe(true)
      expect(addrs.some(a => a.startsWith('/ip4/127.0.0.1/tcp/'))).toBe(true)
      expect(share.stderr).toMatch(/not anonymous/)
      const closed = await freePort()
      const runs = [
        { backends: 'tor,direct', socks: connTor.socksPort, transport: 'tor' },
        { backends: 'direct,tor', socks: connTor.socksPort, transport: 'tcp' },
        // Tor first, but its SOCKS port is closed: the tunnel falls back to the direct address
        { backends: 'tor,direct', socks: closed, transport: 'tcp' }
      ]
      for (const r of runs) {
        const c = new BeamProcess(['connect', String(ready.connect), '--backends', r.backends, '--fallback', '--tor-socks', `127.0.0.1:${r.socks}`,
          // --no-dht: with no DHT peer a failed network would wait out a DHT re-lookup before the next one
          '--no-default-bootstrap', '--no-dht', '--timeout', '40000', '--json'], { BEAM_HOME: await home() })
        const t0 = Date.now()
        try {
          const listening = await c.waitFor('listening', 60_000)
          process.stderr.write(`mixed: ${r.backends} socks ${r.socks}: listening after ${Date.now() - t0} ms\n`)
          const res = await fetchThrough(Number(listening.port), Buffer.from('x'))
          expect(res.receivedSha).toBe(blob.sha)
          const path = await c.waitFor('path', 10_000)
          expect({ backends: r.backends, socks: r.socks, transport: path.transport }).toEqual({ backends: r.backends, socks: r.socks, transport: r.transport })
        } finally {
          await c.stop()
        }
      }
    } finally {
      await share.stop()
      await blob.close()
    }
  })
})

describe.skipIf(suiteNeeds('Tor leak-check control (strace)', straceNeed()))('leak check control: a direct-mode share does show up as clearnet', () => {
  it('the same trace reader sees the UDP socket and the wildcard bind of a default share', async () => {
    const h = await home()
    const p = startTraced(['share', '3000', '--no-default-bootstrap', '--ephemeral', '--json'], { BEAM_HOME: h }, join(h, 'direct.strace'))
    try {
      await p.proc.waitFor('ready', 30_000)
    } finally {
      await p.stop()
    }
    const trace = await readTrace(p.traceFile)
    expect(trace.udpSockets.length).toBeGreaterThan(0)
    expect(trace.inet.some(s => s.syscall === 'bind' && s.address !== '127.0.0.1')).toBe(true)
  })
})
