/**
 * A private I2P network for tests: several i2pd routers, each in its own
 * network namespace of a netlab (test/lab/netlab.ts), talking NTCP2 over the
 * lab's segment on ROUTER_NET addresses, with a private netid, no reseeding,
 * floodfill on the last router(s), and a netDb seeded with the other routers'
 * router.info files. Nothing can leave the lab: its segment is a bridge with
 * no uplink.
 *
 * Why namespaces: Debian's i2pd 2.45 refuses incoming connections from any
 * reserved address, loopback included (fixed upstream for loopback in 2.51),
 * and one router alone cannot publish or look up a lease set (it is its own
 * only floodfill).
 *
 * Each router's SAM bridge listens on 127.0.0.1 inside its namespace; socat
 * carries it to 127.0.0.1:<port> of the test's own namespace through a UNIX
 * socket (namespaces do not separate the file system), so libp2p nodes run in
 * the test process and reach SAM as they would on a normal host.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLab, labAvailable } from '../../lab/netlab.ts'
import type { Lab } from '../../lab/netlab.ts'
import { findI2pd, routerArgs, seedNetDb, writeRouterConfig } from './i2p-router.ts'

export interface I2pRouter {
  name: string
  ip: string
  dataDir: string
  /** SAM of this router, reachable from the test process */
  sam: { host: string, port: number }
  log: () => string
}

export interface I2pNetwork {
  routers: I2pRouter[]
  /** milliseconds from the first i2pd start to all routers running with a seeded netDb */
  startMs: number
  teardown: () => Promise<void>
}

const NTCP2_PORT = 12345
/**
 * Router addresses. i2pd 2.45 drops every incoming NTCP2 connection from an
 * address in its reserved list (loopback, RFC 1918, 100.64/10 and all RFC 5737
 * test nets including the lab's 198.51.100.0/24), whatever `reservedrange`
 * says. So the routers get a second address, from a globally routed block, on
 * the lab's segment. The segment is a bridge with no uplink: these addresses
 * exist only inside the lab namespaces and no packet to them leaves the lab.
 */
export const ROUTER_NET = '11.73.0'
const SAM_PORT = 7656

/** Whether a private I2P network can be built here, and why not. */
export async function i2pNetAvailable (): Promise<{ ok: boolean, reason?: string }> {
  if (findI2pd() == null) return { ok: false, reason: 'i2pd is not installed (apt-get install i2pd)' }
  if (!existsSync('/usr/bin/socat') && !existsSync('/bin/socat')) return { ok: false, reason: 'socat is not installed' }
  return await labAvailable()
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr != null ? addr.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

async function waitFor (what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`i2p-net: timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function stop (child: ChildProcess, ms = 3000): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  child.kill('SIGTERM')
  const t = setTimeout(() => { child.kill('SIGKILL') }, ms)
  await exited
  clearTimeout(t)
}

/**
 * Start `count` (≥ 3) routers; the last `floodfills` of them are floodfills,
 * the first ones are for SAM clients. Throws, after cleaning up, when they do
 * not come up.
 *
 * A SAM client must not sit on a floodfill router with i2pd 2.45: a lease set
 * that the router holds as a floodfill is re-read in the old LeaseSet format
 * when its own client looks it up ("LeaseSet: Identity length … exceeds
 * buffer size"), the client then encrypts to the destination's unused
 * identity key and the far side drops every message ("Garlic: Flags/static
 * section AEAD verification failed"): streams never open.
 */
export async function startI2pNetwork (options: { count?: number, floodfills?: number } = {}): Promise<I2pNetwork> {
  const count = options.count ?? 3
  const floodfills = options.floodfills ?? 1
  const i2pd = findI2pd()
  if (i2pd == null) throw new Error('i2pd not installed')
  const started = Date.now()
  const dir = mkdtempSync(join(tmpdir(), 'beam-i2p-net-'))
  const names = Array.from({ length: count }, (_, i) => `i2p${i + 1}`)
  let lab: Lab | undefined
  const bridges: ChildProcess[] = []
  const routerProcs = new Map<string, ChildProcess>()
  const teardown = async (): Promise<void> => {
    await Promise.all(bridges.map(async b => { await stop(b) }))
    await Promise.all([...routerProcs.values()].map(async p => { await stop(p) }))
    await lab?.teardown()
    if (process.env.BEAM_KEEP_I2P_DATA == null) rmSync(dir, { recursive: true, force: true })
  }
  try {
    lab = await createLab({ hosts: names.map(name => ({ name })) })
    const l = lab
    const routers: I2pRouter[] = []
    for (const [i, name] of names.entries()) {
      // the lab names a public host's cable <prefix>w<n> (n = 1-based spec index)
      const ip = `${ROUTER_NET}.${11 + i}`
      const r = await l.exec(name, ['ip', 'addr', 'add', `${ip}/24`, 'dev', `${l.prefix}w${i + 1}`], { timeoutMs: 5000 })
      if (r.code !== 0) throw new Error(`i2p-net: cannot add ${ip} in ${name}: ${r.stderr.trim()}`)
      const dataDir = join(dir, name)
      writeRouterConfig({ dataDir, host: ip, ntcp2Port: NTCP2_PORT, samAddress: '127.0.0.1', samPort: SAM_PORT, floodfill: i >= count - floodfills })
      routers.push({ name, ip, dataDir, sam: { host: '127.0.0.1', port: 0 }, log: () => readLog(dataDir) })
    }
    const launch = (r: I2pRouter): void => {
      const child = l.spawn(r.name, [i2pd, ...routerArgs(r.dataDir)], { stdio: 'ignore' })
      routerProcs.set(r.name, child)
    }
    // first start: each router makes its keys and router.info
    for (const r of routers) launch(r)
    await Promise.all(routers.map(async r => { await waitFor(`${r.name} router.info`, () => r.log().includes('Starting SAM bridge') && fileSize(join(r.dataDir, 'router.info')) >= 400, 20_000) }))
    await Promise.all([...routerProcs.values()].map(async p => { await stop(p) }))
    routerProcs.clear()
    // seed every netDb with every other router, then start for good
    for (const r of routers) {
      for (const other of routers) if (other !== r) seedNetDb(r.dataDir, join(other.dataDir, 'router.info'))
    }
    for (const r of routers) launch(r)
    // SAM bridges into the test's namespace
    for (const r of routers) {
      const sock = join(dir, `${r.name}.sam.sock`)
      bridges.push(l.spawn(r.name, ['socat', '-t', '30', `UNIX-LISTEN:${sock},fork,unlink-early`, `TCP:127.0.0.1:${SAM_PORT}`], { stdio: 'ignore' }))
      await waitFor(`${r.name} SAM socket`, () => existsSync(sock), 5000)
      const port = await freePort()
      const b = spawn('socat', ['-t', '30', `TCP-LISTEN:${port},bind=127.0.0.1,fork,reuseaddr`, `UNIX-CONNECT:${sock}`], { stdio: 'ignore' })
      bridges.push(b)
      r.sam.port = port
    }
    return { routers, startMs: Date.now() - started, teardown }
  } catch (err) {
    await teardown()
    throw err
  }
}

function fileSize (path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

function readLog (dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'i2pd.log'), 'utf8')
  } catch {
    return ''
  }
}
