/**
 * A NAT lab made of Linux network namespaces, for tests that need real NATs
 * (hole punching, relay fallback, NAT mapping loss). See test/lab/README.md.
 *
 * Everything the lab creates lives inside namespaces whose names start with a
 * per-lab prefix `bl<4 hex>-`; veth pairs are created directly inside lab
 * namespaces (never in the root namespace) and die with them. The host's own
 * interfaces, routes and firewall are never touched. Requires root.
 */
import { spawn, execFileSync } from 'node:child_process'
import type { ChildProcess, StdioOptions } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { accessSync, constants, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * eim = MASQUERADE (endpoint-independent mapping, port preserved when free);
 * symmetric = MASQUERADE --random-fully (a random port per new flow);
 * sequential = symmetric, but UDP flows get ports in sequence: the n-th new UDP
 * flow through the router leaves from SEQUENTIAL_BASE_PORT + (n mod SEQUENTIAL_PORTS)
 * (other protocols as symmetric).
 */
export type NatKind = 'eim' | 'symmetric' | 'sequential'

/** First external UDP port of a 'sequential' NAT. */
export const SEQUENTIAL_BASE_PORT = 20000
/** How many external UDP ports a 'sequential' NAT cycles through. */
export const SEQUENTIAL_PORTS = 1024

/** A host without `nat` sits directly on the public segment. */
export interface LabSpec { hosts: Array<{ name: string, nat?: NatKind }> }

export interface LabHost {
  name: string
  /** the host's network namespace */
  ns: string
  /** its own address */
  ip: string
  /** what the internet sees: its NAT's WAN address, or its own address for a public host */
  publicIp: string
  /** its NAT kind, if any */
  nat?: NatKind
}

export interface ExecResult { code: number, stdout: string, stderr: string }

export interface SpawnOptions {
  /** merged over process.env */
  env?: Record<string, string>
  /** default 'pipe' (read or drain the pipes, or the child blocks once a pipe is full) */
  stdio?: StdioOptions
}

export interface Lab {
  /** the per-lab name prefix, e.g. `bl3fa2-` */
  prefix: string
  /** the namespace holding the public segment (a bridge) */
  inetNs: string
  hosts: Record<string, LabHost>
  /** Run a command to completion inside a host's namespace (or any namespace of this lab, by its full name). Rejects after timeoutMs (default 15 s). */
  exec: (host: string, cmd: string[], opts?: { timeoutMs?: number, input?: string }) => Promise<ExecResult>
  /** Start a long-running command inside a host's namespace; tracked and killed (by PID) on teardown. */
  spawn: (host: string, cmd: string[], opts?: SpawnOptions) => ChildProcess
  natOf: (host: string) => { ns: string, wanIp: string, kind: NatKind } | undefined
  /** `conntrack -L` inside the host's NAT router namespace. */
  conntrack: (host: string) => Promise<string>
  /** Forget every NAT mapping of the host's router (`conntrack -F`), as a rebooted home router does. */
  flushNat: (host: string) => Promise<void>
  /** Cut/restore the host's WAN link (the bridge side of its NAT's WAN cable, or of a public host's cable). */
  setNatDown: (host: string, down: boolean) => Promise<void>
  /** Kill tracked processes, delete every namespace of the lab. Idempotent. */
  teardown: () => Promise<void>
}

/** Every lab namespace name starts with this, then 4 hex digits and '-'. */
export const LAB_PREFIX = 'bl'
const LAB_ID_RE = /^(bl[0-9a-f]{4})-/
/** Public segment: 198.51.100.0/24 (RFC 5737), host n (1-based, spec order) gets .(10+n). */
export const PUBLIC_NET = '198.51.100'
/** Owner records of labs, so a sweep spares labs of live processes. */
export const LAB_REGISTRY_DIR = '/run/beam-netlab'
const REGISTRY_DIR = LAB_REGISTRY_DIR
const HOST_NAME_RE = /^[a-z][a-z0-9_]{0,23}$/
const MAX_HOSTS = 200

// ---------------------------------------------------------------- processes

/** Tools live in sbin, which a non-login PATH may lack: look there too. */
const TOOL_DIRS = [...(process.env.PATH ?? '').split(':').filter(d => d !== ''), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']
const toolCache = new Map<string, string | undefined>()

function findTool (name: string): string | undefined {
  if (!toolCache.has(name)) {
    let found: string | undefined
    for (const dir of TOOL_DIRS) {
      const candidate = join(dir, name)
      try {
        accessSync(candidate, constants.X_OK)
        found = candidate
        break
      } catch { /* next */ }
    }
    toolCache.set(name, found)
  }
  return toolCache.get(name)
}

/** Absolute path of a tool the lab needs (ip, iptables, conntrack, …); throws if absent. */
export function bin (name: string): string {
  const path = findTool(name)
  if (path == null) throw new Error(`netlab: '${name}' not found (run scripts/install-test-deps.sh)`)
  return path
}

interface RunResult { code: number, stdout: string, stderr: string }

/** Run a program to completion (no shell); kill it by PID after timeoutMs and reject. */
function run (file: string, args: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 15_000
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('error', err => { clearTimeout(timer); reject(err) })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (timedOut) {
        reject(new Error(`${file} ${args.join(' ')}: timed out after ${timeoutMs} ms; stdout: ${stdout.slice(-1000)} stderr: ${stderr.slice(-1000)}`))
        return
      }
      resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr })
    })
    child.stdin.on('error', () => { /* child exited before reading */ })
    child.stdin.end(opts.input ?? '')
  })
}

function signalNumber (signal: NodeJS.Signals | null): number {
  if (signal == null) return 0
  const map: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15, SIGSEGV: 11, SIGABRT: 6, SIGPIPE: 13 }
  return map[signal] ?? 1
}

/** Run and require exit code 0. */
async function must (file: string, args: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<string> {
  const r = await run(file, args, opts)
  if (r.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim() || r.stdout.trim()}${opts.input != null ? `\ninput:\n${opts.input}` : ''}`)
  }
  return r.stdout
}

/** Run a batch of `ip` commands inside a namespace (one process for the lot). */
async function ipBatch (ns: string, lines: string[]): Promise<void> {
  if (lines.length === 0) return
  await must(bin('ip'), ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n' })
}

async function nsExec (ns: string, cmd: string[], opts: { input?: string, timeoutMs?: number } = {}): Promise<RunResult> {
  return await run(bin('ip'), ['netns', 'exec', ns, ...cmd], opts)
}

/** Wait (bounded) for a child to exit. */
async function waitExit (child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode != null || child.signalCode != null) return true
  return await new Promise<boolean>(resolve => {
    const t = setTimeout(() => { child.off('exit', onExit); resolve(false) }, ms)
    const onExit = (): void => { clearTimeout(t); resolve(true) }
    child.once('exit', onExit)
  })
}

/** SIGTERM, then SIGKILL after graceMs; each by the child's own PID. Bounded. */
async function stopChild (child: ChildProcess, graceMs = 1500): Promise<void> {
  if (child.exitCode != null || child.signalCode != null || child.pid == null) return
  child.kill('SIGTERM')
  if (await waitExit(child, graceMs)) return
  child.kill('SIGKILL')
  await waitExit(child, 2000)
}

// ---------------------------------------------------------------- registry / sweeping

interface OwnerRecord { pid: number, startTime: string, created: string }

function procStartTime (pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // fields after the command name (which may contain spaces) start after the last ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return rest[19] // field 22 (starttime); rest[0] is field 3
  } catch {
    return undefined
  }
}

function ownerAlive (rec: OwnerRecord): boolean {
  const st = procStartTime(rec.pid)
  return st != null && st === rec.startTime
}

function readOwner (id: string): OwnerRecord | undefined {
  try {
    const rec = JSON.parse(readFileSync(join(REGISTRY_DIR, `${id}.json`), 'utf8')) as Partial<OwnerRecord>
    if (typeof rec.pid !== 'number' || typeof rec.startTime !== 'string') return undefined
    return { pid: rec.pid, startTime: rec.startTime, created: String(rec.created) }
  } catch {
    return undefined
  }
}

/** Lab ids claimed by this process and not released (never swept). */
const claimedIds = new Set<string>()

/** Claim a fresh lab id: exclusive creation of its owner record, before any namespace exists. */
function claimLabId (existing: Set<string>): string {
  mkdirSync(REGISTRY_DIR, { recursive: true })
  for (let i = 0; i < 50; i++) {
    const id = LAB_PREFIX + randomBytes(2).toString('hex')
    if (existing.has(id)) continue
    const rec: OwnerRecord = { pid: process.pid, startTime: procStartTime(process.pid) ?? '', created: new Date().toISOString() }
    try {
      writeFileSync(join(REGISTRY_DIR, `${id}.json`), JSON.stringify(rec), { flag: 'wx' })
      claimedIds.add(id)
      return id
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue
      throw err
    }
  }
  throw new Error('netlab: could not claim a free lab id')
}

function releaseLabId (id: string): void {
  rmSync(join(REGISTRY_DIR, `${id}.json`), { force: true })
  claimedIds.delete(id)
}

/** Names of all network namespaces (`ip netns list`). */
export async function listNetns (): Promise<string[]> {
  const out = await must(bin('ip'), ['netns', 'list'])
  return out.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => n !== '')
}

/** Labs of this process not torn down yet (for the exit hook). */
const liveLabs = new Map<string, LabImpl>()

/**
 * Delete namespaces left behind by crashed runs. Only names matching `bl<4 hex>-`
 * and starting with `prefix` are considered; labs whose owner process is still
 * alive (and labs of this process that are not torn down) are spared.
 * Processes still inside a stale namespace are not killed (we did not start them);
 * they are reported. Returns the deleted namespace names.
 */
export async function sweepStaleLabs (prefix: string = LAB_PREFIX): Promise<string[]> {
  if (!prefix.startsWith(LAB_PREFIX)) throw new Error(`netlab: sweep prefix must start with '${LAB_PREFIX}'`)
  const byLab = new Map<string, string[]>()
  for (const name of await listNetns()) {
    const m = LAB_ID_RE.exec(name)
    if (m?.[1] == null || !name.startsWith(prefix)) continue
    const list = byLab.get(m[1]) ?? []
    list.push(name)
    byLab.set(m[1], list)
  }
  const removed: string[] = []
  for (const [id, names] of byLab) {
    if (claimedIds.has(id)) continue
    const owner = readOwner(id)
    if (owner != null && owner.pid !== process.pid && ownerAlive(owner)) continue
    for (const ns of names) {
      const pids = await run(bin('ip'), ['netns', 'pids', ns])
      const left = pids.stdout.trim()
      if (left !== '') console.warn(`netlab: stale namespace ${ns} still holds processes ${left.split('\n').join(',')} (not killed)`)
      const r = await run(bin('ip'), ['netns', 'del', ns])
      if (r.code === 0) removed.push(ns)
    }
    releaseLabId(id)
  }
  // owner records without namespaces, whose owner is gone
  try {
    for (const f of readdirSync(REGISTRY_DIR)) {
      const id = f.replace(/\.json$/, '')
      if (!/^bl[0-9a-f]{4}$/.test(id) || !id.startsWith(prefix.slice(0, 6)) || claimedIds.has(id) || byLab.has(id)) continue
      const owner = readOwner(id)
      // an unreadable record may be one being written right now: only old ones go
      const old = Date.now() - statSync(join(REGISTRY_DIR, f)).mtimeMs > 60_000
      if (owner == null ? old : !ownerAlive(owner)) releaseLabId(id)
    }
  } catch { /* no registry yet */ }
  return removed
}

// last-resort cleanup when the process exits without teardown (uncaught error, process.exit)
let exitHookInstalled = false
function installExitHook (): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const lab of liveLabs.values()) lab.teardownSync()
  })
}

// ---------------------------------------------------------------- availability

let availability: Promise<{ ok: boolean, reason?: string }> | undefined

/** root? `ip netns` works? iptables (nat + conntrack match) and conntrack work inside a probe namespace? */
export function labAvailable (): Promise<{ ok: boolean, reason?: string }> {
  availability ??= probe()
  return availability
}

async function probe (): Promise<{ ok: boolean, reason?: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'not running as root (network namespaces and iptables need root)' }
  for (const tool of ['ip', 'iptables', 'iptables-restore', 'conntrack', 'sysctl']) {
    if (findTool(tool) == null) return { ok: false, reason: `'${tool}' not found in PATH or sbin (run scripts/install-test-deps.sh)` }
  }
  let id: string
  try {
    id = claimLabId(new Set())
  } catch (err) {
    return { ok: false, reason: `cannot write the lab registry ${REGISTRY_DIR}: ${(err as Error).message}` }
  }
  const ns = `${id}-probe`
  try {
    const add = await run(bin('ip'), ['netns', 'add', ns])
    if (add.code !== 0) return { ok: false, reason: `ip netns add failed: ${add.stderr.trim()}` }
    const rules = [
      '*nat', ':POSTROUTING ACCEPT [0:0]', '-A POSTROUTING -o lo -j MASQUERADE --random-fully', 'COMMIT',
      '*filter', ':INPUT ACCEPT [0:0]', '-A INPUT -i lo -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT', 'COMMIT', ''
    ].join('\n')
    const ipt = await nsExec(ns, [bin('iptables-restore')], { input: rules })
    if (ipt.code !== 0) return { ok: false, reason: `iptables inside a namespace failed: ${ipt.stderr.trim()}` }
    const ct = await nsExec(ns, [bin('conntrack'), '-L'])
    if (ct.code !== 0) return { ok: false, reason: `conntrack -L inside a namespace failed: ${ct.stderr.trim()}` }
    const node = await nsExec(ns, [process.execPath, '-e', 'process.stdout.write("ok")'])
    if (node.stdout !== 'ok') return { ok: false, reason: `node inside a namespace failed: ${node.stderr.trim()}` }
    return { ok: true }
  } catch (err) {
    return { ok: false, reason: `probe failed: ${(err as Error).message}` }
  } finally {
    await run(bin('ip'), ['netns', 'del', ns]).catch(() => undefined)
    releaseLabId(id)
  }
}

// ---------------------------------------------------------------- the lab

interface HostPlan {
  name: string
  index: number
  nat?: NatKind
  ns: string
  routerNs?: string
  ip: string
  publicIp: string
  /** bridge-side veth in inet */
  portIf: string
  /** WAN-side veth: in the router (NATed) or in the host (public) */
  wanIf: string
  /** router LAN veth and host LAN veth (NATed only) */
  lanIf: string
  hostIf: string
}

class LabImpl implements Lab {
  readonly hosts: Record<string, LabHost> = {}
  readonly plans = new Map<string, HostPlan>()
  readonly namespaces: string[] = []
  readonly children = new Set<ChildProcess>()
  readonly bridge: string
  private torn = false
  private tearing: Promise<void> | undefined

  readonly id: string
  readonly prefix: string
  readonly inetNs: string

  constructor (id: string, prefix: string, inetNs: string) {
    this.id = id
    this.prefix = prefix
    this.inetNs = inetNs
    this.bridge = `${prefix}br`
  }

  private plan (host: string): HostPlan {
    const p = this.plans.get(host)
    if (p == null) throw new Error(`netlab: no host '${host}' in this lab (hosts: ${[...this.plans.keys()].join(', ')})`)
    return p
  }

  /** A host name, or the full name of one of this lab's namespaces (e.g. natOf(host).ns, inetNs). */
  private nsFor (host: string): string {
    const p = this.plans.get(host)
    if (p != null) return p.ns
    if (this.namespaces.includes(host)) return host
    throw new Error(`netlab: no host or namespace '${host}' in this lab (hosts: ${[...this.plans.keys()].join(', ')})`)
  }

  async exec (host: string, cmd: string[], opts: { timeoutMs?: number, input?: string } = {}): Promise<ExecResult> {
    if (this.torn) throw new Error('netlab: lab is torn down')
    const ns = this.nsFor(host)
    const timeoutMs = opts.timeoutMs ?? 15_000
    return await new Promise((resolve, reject) => {
      const child = spawn(bin('ip'), ['netns', 'exec', ns, ...cmd], { stdio: ['pipe', 'pipe', 'pipe'] })
      this.track(child)
      let stdout = ''
      let stderr = ''
      let timedOut = false
      child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
      child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
      const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL') }, timeoutMs)
      child.on('error', err => { clearTimeout(timer); reject(err) })
      child.on('close', (code, signal) => {
        clearTimeout(timer)
        if (timedOut) reject(new Error(`netlab exec in ${host}: '${cmd.join(' ')}' timed out after ${timeoutMs} ms; stdout: ${stdout.slice(-1000)} stderr: ${stderr.slice(-1000)}`))
        else resolve({ code: code ?? 128 + signalNumber(signal), stdout, stderr })
      })
      child.stdin.on('error', () => { /* exited before reading */ })
      child.stdin.end(opts.input ?? '')
    })
  }

  spawn (host: string, cmd: string[], opts: SpawnOptions = {}): ChildProcess {
    if (this.torn) throw new Error('netlab: lab is torn down')
    const ns = this.nsFor(host)
    // `ip netns exec` execs the command in place (no fork), so the child's PID is the command's PID
    const child = spawn(bin('ip'), ['netns', 'exec', ns, ...cmd], {
      env: { ...process.env, ...opts.env },
      stdio: opts.stdio ?? 'pipe'
    })
    this.track(child)
    return child
  }

  private track (child: ChildProcess): void {
    this.children.add(child)
    child.once('exit', () => { this.children.delete(child) })
    child.once('error', () => { this.children.delete(child) })
  }

  natOf (host: string): { ns: string, wanIp: string, kind: NatKind } | undefined {
    const p = this.plan(host)
    if (p.routerNs == null || p.nat == null) return undefined
    return { ns: p.routerNs, wanIp: p.publicIp, kind: p.nat }
  }

  private routerOf (host: string): string {
    const nat = this.natOf(host)
    if (nat == null) throw new Error(`netlab: host '${host}' is public, it has no NAT router`)
    return nat.ns
  }

  async conntrack (host: string): Promise<string> {
    const r = await nsExec(this.routerOf(host), [bin('conntrack'), '-L'])
    if (r.code !== 0) throw new Error(`conntrack -L in ${host}'s router failed: ${r.stderr.trim()}`)
    return r.stdout
  }

  async flushNat (host: string): Promise<void> {
    const r = await nsExec(this.routerOf(host), [bin('conntrack'), '-F'])
    if (r.code !== 0) throw new Error(`conntrack -F in ${host}'s router failed: ${r.stderr.trim()}`)
  }

  async setNatDown (host: string, down: boolean): Promise<void> {
    const p = this.plan(host)
    // the bridge side of the cable: the router (or public host) keeps its address,
    // routes and conntrack state, and sees NO-CARRIER, like an unplugged uplink
    await must(bin('ip'), ['-n', this.inetNs, 'link', 'set', p.portIf, down ? 'down' : 'up'])
  }

  async teardown (): Promise<void> {
    this.tearing ??= this.doTeardown()
    await this.tearing
  }

  private async doTeardown (): Promise<void> {
    this.torn = true
    await Promise.all([...this.children].map(async c => { await stopChild(c) }))
    const errors: string[] = []
    // delete even namespaces that this object did not finish recording (failed creation)
    const present = await listNetns().catch(() => [] as string[])
    const mine = new Set([...this.namespaces, ...present.filter(n => n.startsWith(this.prefix))])
    for (const ns of mine) {
      if (!present.includes(ns)) continue
      const r = await run(bin('ip'), ['netns', 'del', ns])
      if (r.code !== 0) errors.push(`${ns}: ${r.stderr.trim()}`)
    }
    liveLabs.delete(this.id)
    releaseLabId(this.id)
    if (errors.length > 0) throw new Error(`netlab teardown: ${errors.join('; ')}`)
  }

  /** Synchronous best effort, for process 'exit'. */
  teardownSync (): void {
    if (this.torn) return
    this.torn = true
    for (const c of this.children) {
      if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
    }
    for (const ns of this.namespaces) {
      try { execFileSync(bin('ip'), ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 }) } catch { /* already gone */ }
    }
    liveLabs.delete(this.id)
    releaseLabId(this.id)
  }
}

/**
 * A NAT that allocates UDP ports in sequence, one per new flow: round robin over
 * SEQUENTIAL_PORTS SNAT rules. Rule i matches one in (N - i) of the flows that
 * reach it (`statistic --mode nth`), so flow k takes rule k mod N. Linux's own
 * SNAT cannot do it: without --random it keeps the inside port when the tuple is
 * free (endpoint-independent) and otherwise starts its search at a random offset.
 */
function sequentialRules (wan: string, wanIp: string): string[] {
  const lines = [`-A POSTROUTING -o ${wan} -p udp -j SEQ_UDP`]
  for (let i = 0; i < SEQUENTIAL_PORTS; i++) {
    lines.push(`-A SEQ_UDP -p udp -m statistic --mode nth --every ${SEQUENTIAL_PORTS - i} --packet 0 -j SNAT --to-source ${wanIp}:${SEQUENTIAL_BASE_PORT + i}`)
  }
  return lines
}

function routerRules (p: HostPlan): string {
  const wan = p.wanIf
  return [
    '*nat',
    ':PREROUTING ACCEPT [0:0]',
    ':INPUT ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    ':POSTROUTING ACCEPT [0:0]',
    ...(p.nat === 'sequential' ? [':SEQ_UDP - [0:0]', ...sequentialRules(wan, p.publicIp)] : []),
    // source NAT everything (else) leaving through the WAN to the WAN address
    `-A POSTROUTING -o ${wan} -j MASQUERADE${p.nat === 'eim' ? '' : ' --random-fully'}`,
    'COMMIT',
    '*filter',
    ':INPUT ACCEPT [0:0]',
    ':FORWARD ACCEPT [0:0]',
    ':OUTPUT ACCEPT [0:0]',
    // like a home router: from the WAN only replies to flows opened from inside
    `-A INPUT -i ${wan} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A INPUT -i ${wan} -j DROP`,
    `-A FORWARD -i ${wan} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A FORWARD -i ${wan} -j DROP`,
    'COMMIT',
    ''
  ].join('\n')
}

// per-namespace sysctls: no IPv6 on lab links (lo keeps ::1), so the only paths are the IPv4 ones we build
const NS_SYSCTLS = ['net.ipv6.conf.default.disable_ipv6=1', 'net.ipv6.conf.default.accept_ra=0']

async function nsSysctl (ns: string, settings: string[]): Promise<void> {
  const r = await nsExec(ns, [bin('sysctl'), '-q', '-w', ...settings])
  // IPv6 may be absent from the kernel; forwarding is the only one that must succeed
  if (r.code !== 0 && settings.some(s => s.startsWith('net.ipv4.'))) {
    throw new Error(`sysctl in ${ns} failed: ${r.stderr.trim()}`)
  }
}

/** Build a lab. On failure everything created so far is deleted. */
export async function createLab (spec: LabSpec): Promise<Lab> {
  if (spec.hosts.length === 0) throw new Error('netlab: a lab needs at least one host')
  if (spec.hosts.length > MAX_HOSTS) throw new Error(`netlab: at most ${MAX_HOSTS} hosts`)
  const seen = new Set<string>()
  for (const h of spec.hosts) {
    if (!HOST_NAME_RE.test(h.name) || h.name === 'inet') throw new Error(`netlab: bad host name '${h.name}' (want ${String(HOST_NAME_RE)}, not 'inet')`)
    if (seen.has(h.name)) throw new Error(`netlab: duplicate host name '${h.name}'`)
    seen.add(h.name)
  }
  installExitHook()
  await sweepStaleLabs().catch(err => { console.warn(`netlab: sweep failed: ${(err as Error).message}`) })

  const existing = new Set((await listNetns()).map(n => LAB_ID_RE.exec(n)?.[1]).filter((x): x is string => x != null))
  const id = claimLabId(existing)
  const prefix = `${id}-`
  const lab = new LabImpl(id, prefix, `${prefix}inet`)
  liveLabs.set(id, lab)
  try {
    spec.hosts.forEach((h, i) => {
      const n = i + 1
      const publicIp = `${PUBLIC_NET}.${10 + n}`
      const plan: HostPlan = {
        name: h.name,
        index: n,
        ns: `${prefix}${h.name}`,
        ip: h.nat != null ? `10.${n}.0.2` : publicIp,
        publicIp,
        portIf: `${prefix}p${n}`,
        wanIf: `${prefix}w${n}`,
        lanIf: `${prefix}l${n}`,
        hostIf: `${prefix}h${n}`
      }
      if (h.nat != null) {
        plan.nat = h.nat
        plan.routerNs = `${prefix}${h.name}-nat`
      }
      lab.plans.set(h.name, plan)
      lab.hosts[h.name] = { name: h.name, ns: plan.ns, ip: plan.ip, publicIp, ...(h.nat != null ? { nat: h.nat } : {}) }
    })

    // namespaces (sequential: `ip netns add` sets up /run/netns on first use)
    const allNs = [lab.inetNs]
    for (const p of lab.plans.values()) {
      allNs.push(p.ns)
      if (p.routerNs != null) allNs.push(p.routerNs)
    }
    for (const ns of allNs) {
      await must(bin('ip'), ['netns', 'add', ns])
      lab.namespaces.push(ns)
    }
    const routers = new Set([...lab.plans.values()].map(p => p.routerNs).filter((x): x is string => x != null))
    await Promise.all(allNs.map(async ns => {
      // forwarding only inside the lab's router namespaces
      await nsSysctl(ns, [...NS_SYSCTLS, ...(routers.has(ns) ? ['net.ipv4.ip_forward=1'] : [])])
    }))

    // the public segment: a bridge in inet; every cable is created in place, never in the root namespace
    const inet: string[] = [
      'link set lo up',
      `link add ${lab.bridge} type bridge stp_state 0 forward_delay 0`,
      `link set ${lab.bridge} up`
    ]
    for (const p of lab.plans.values()) {
      const wanSide = p.routerNs ?? p.ns
      inet.push(`link add ${p.portIf} type veth peer name ${p.wanIf} netns ${wanSide}`)
      inet.push(`link set ${p.portIf} master ${lab.bridge}`)
      inet.push(`link set ${p.portIf} up`)
    }
    await ipBatch(lab.inetNs, inet)

    await Promise.all([...lab.plans.values()].map(async p => {
      if (p.routerNs == null) {
        await ipBatch(p.ns, [
          'link set lo up',
          `addr add ${p.ip}/24 dev ${p.wanIf}`,
          `link set ${p.wanIf} up`,
          // the public segment is the whole internet of the lab
          `route add default dev ${p.wanIf}`
        ])
        return
      }
      const routerNs = p.routerNs
      const routerLan = `10.${p.index}.0.1`
      await ipBatch(routerNs, [
        'link set lo up',
        `link add ${p.lanIf} type veth peer name ${p.hostIf} netns ${p.ns}`,
        `addr add ${p.publicIp}/24 dev ${p.wanIf}`,
        `link set ${p.wanIf} up`,
        `addr add ${routerLan}/24 dev ${p.lanIf}`,
        `link set ${p.lanIf} up`,
        `route add default dev ${p.wanIf}`
      ])
      await ipBatch(p.ns, [
        'link set lo up',
        `addr add ${p.ip}/24 dev ${p.hostIf}`,
        `link set ${p.hostIf} up`,
        `route add default via ${routerLan} dev ${p.hostIf}`
      ])
      await must(bin('ip'), ['netns', 'exec', routerNs, bin('iptables-restore')], { input: routerRules(p) })
      // byte/packet counters on every flow, so tests can tell which path carried the bytes
      // (the sysctl exists once conntrack is loaded, i.e. after the NAT rules)
      await nsSysctl(routerNs, ['net.netfilter.nf_conntrack_acct=1'])
    }))
    return lab
  } catch (err) {
    await lab.teardown().catch(() => undefined)
    throw err
  }
}
