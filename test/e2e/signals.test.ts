/**
 * Signals through every documented way of running beam (docs/long-running.md,
 * "Running under a supervisor"): a supervisor signals the PID it started, and
 * the beam process that holds the port must stop within 2 s, leaving no beam
 * process behind. Real processes: the systemd units' ExecStart command line,
 * `node bin/beam.js` on a Node older than 22.18 (which re-runs beam with the
 * bundled Node, as a child or by process.execve), and `npx beam` in the
 * checkout (npm, a shell, beam). The beam process is found as the process
 * that holds the share's listening socket (/proc/net/tcp and /proc/PID/fd),
 * and every process is checked and cleaned up by PID.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeOldNode } from '../helpers/old-node.ts'
import type { BeamEvent } from '../helpers/beam.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '')
const scratch = mkdtempSync(join(tmpdir(), 'beam-signals-'))
afterAll(() => { rmSync(scratch, { recursive: true, force: true }) })

/** The share every test runs: loopback only, no bootstrap, a throwaway key; the service need not exist. */
const SHARE_ARGS = ['share', '127.0.0.1:9', '--ephemeral', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-default-bootstrap', '--no-webrtc', '--json']

/** Processes a test started or found, killed (SIGKILL, by PID) after it if still there. */
const started = new Set<number>()
afterEach(() => {
  for (const pid of started) if (alive(pid)) try { process.kill(pid, 'SIGKILL') } catch {}
  started.clear()
})

/** True while the process exists and is not a zombie. */
function alive (pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch { return false }
}

/** The process and all its descendants (from /proc/PID/task/TID/children). */
function tree (pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length && i < 64; i++) {
    const p = out[i] as number
    let tasks: string[] = []
    try { tasks = readdirSync(`/proc/${p}/task`) } catch { continue }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, 'utf8').trim().split(/\s+/)) if (c !== '') out.push(Number(c))
      } catch {}
    }
  }
  return out
}

/** Among `pids`, the one holding the TCP socket listening on `port` (IPv4 or IPv6). */
function holderOfPort (port: number, pids: number[]): number | undefined {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  const inodes = new Set<string>()
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/)
      if (f[1]?.endsWith(`:${hex}`) === true && f[3] === '0A' && f[9] != null) inodes.add(f[9])
    }
  }
  for (const pid of pids) {
    let fds: string[] = []
    try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
        if (m?.[1] != null && inodes.has(m[1])) return pid
      } catch {}
    }
  }
  return undefined
}

interface Launched {
  child: ChildProcess
  /** The `ready` event. */
  ready: BeamEvent
  /** The PID holding the share's TCP port: beam itself. */
  beam: number
  /** Every process of the launch (the started one and its descendants) once ready. */
  all: number[]
  stderr: () => string
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Start `argv` in its own session (no controlling terminal, as under a supervisor) and wait for beam's `ready`. */
async function launch (argv: string[], env: Record<string, string> = {}): Promise<Launched> {
  const home = mkdtempSync(join(scratch, 'home-'))
  const child = spawn(argv[0] as string, argv.slice(1), {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, BEAM_HOME: home, BEAM_LOG_LEVEL: 'info', BEAM_BUNDLE: '0', BEAM_REEXEC: '', ...env }
  })
  if (child.pid != null) started.add(child.pid)
  let stderr = ''
  let stdout = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => { child.on('exit', (code, signal) => { resolve({ code, signal }) }) })
  const ready = await new Promise<BeamEvent>((resolve, reject) => {
    const t = setTimeout(() => { reject(new Error(`no ready event within 45 s; stderr:\n${stderr.slice(-2000)}`)) }, 45_000)
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      stdout += s
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue
        const ev = JSON.parse(line) as BeamEvent
        if (ev.event === 'ready') { clearTimeout(t); resolve(ev) }
      }
    })
    void exited.then(r => { clearTimeout(t); reject(new Error(`exited (${String(r.code ?? r.signal)}) before ready; stderr:\n${stderr.slice(-2000)}`)) })
  })
  const port = Number(/\/tcp\/(\d+)/.exec(String((ready.multiaddrs as string[])[0]))?.[1])
  const all = tree(child.pid as number)
  for (const p of all) started.add(p)
  const beam = holderOfPort(port, all)
  if (beam == null) throw new Error(`no process of ${all.join(',')} holds port ${port}`)
  return { child, ready, beam, all, stderr: () => stderr, exited }
}

/** Signal `pid` and wait (at most `ms`) for `watch` to be gone; resolves how long it took. */
async function signalAndWait (pid: number, signal: NodeJS.Signals, watch: number, ms = 5000): Promise<number> {
  const start = Date.now()
  process.kill(pid, signal)
  while (alive(watch) && Date.now() - start < ms) await new Promise(resolve => setTimeout(resolve, 20))
  return Date.now() - start
}

/** The ExecStart command lines of the ini blocks of docs/long-running.md, continuation lines joined. */
function execStarts (): string[] {
  const doc = readFileSync(join(ROOT, 'docs', 'long-running.md'), 'utf8')
  const out: string[] = []
  for (const block of doc.split('```ini').slice(1)) {
    const body = block.slice(0, block.indexOf('```')).replaceAll('\\\n', ' ')
    for (const line of body.split('\n')) if (line.startsWith('ExecStart=')) out.push(line.slice('ExecStart='.length).trim().replace(/\s+/g, ' '))
  }
  return out
}

describe('signals: the systemd units of docs/long-running.md', () => {
  it('every ExecStart runs the bundled Node on bin/beam.js, never npx or npm, for share, connect and relay', () => {
    const lines = execStarts()
    expect(lines.map(l => l.split(' ')[2])).toEqual(['share', 'connect', 'relay'])
    for (const l of lines) {
      expect(l).toMatch(/^\/opt\/beam\/node_modules\/\.bin\/node \/opt\/beam\/bin\/beam\.js /)
      expect(l).not.toMatch(/\bnpx\b|\bnpm\b/)
    }
  })

  it('SIGTERM to the ExecStart process (beam itself) stops it within 2 s with exit 0', async () => {
    const line = execStarts()[0] as string
    const [node, bin] = line.replaceAll('/opt/beam', ROOT).split(' ')
    expect(existsSync(node as string)).toBe(true)
    const l = await launch([node as string, bin as string, ...SHARE_ARGS])
    expect(l.beam).toBe(l.child.pid)
    const ms = await signalAndWait(l.beam, 'SIGTERM', l.beam)
    expect(ms).toBeLessThan(2000)
    expect((await l.exited).code).toBe(0)
    expect(l.all.filter(alive)).toEqual([])
  })
})

/** A Node older than 22.18 without process.execve: the system's Node 20 when there is one, else a fake. */
function oldNodeWithoutExecve (): string {
  try {
    const v = execFileSync('/usr/bin/node', ['-p', 'process.versions.node + " " + typeof process.execve'], { encoding: 'utf8' }).trim()
    const [version, execve] = v.split(' ')
    const [major = 0, minor = 0] = (version ?? '').split('.').map(Number)
    if ((major < 22 || (major === 22 && minor < 18)) && execve === 'undefined') return '/usr/bin/node'
  } catch {}
  return fakeOldNode(join(scratch, 'old-node-no-execve'), '20.11.1', [], { execve: false })
}

describe('signals: bin/beam.js on an old Node, beam as its child', () => {
  const oldNode = oldNodeWithoutExecve()
  const bin = join(ROOT, 'bin', 'beam.js')

  it('SIGTERM to the launcher reaches beam: stopped within 2 s, the launcher exits 0', async () => {
    const l = await launch([oldNode, bin, ...SHARE_ARGS])
    expect(l.beam).not.toBe(l.child.pid)
    const ms = await signalAndWait(l.child.pid as number, 'SIGTERM', l.beam)
    expect(ms).toBeLessThan(2000)
    expect(await l.exited).toEqual({ code: 0, signal: null })
    expect(l.all.filter(alive)).toEqual([])
  })

  it('SIGINT from outside a terminal (a supervisor) is passed on too', async () => {
    const l = await launch([oldNode, bin, ...SHARE_ARGS])
    const ms = await signalAndWait(l.child.pid as number, 'SIGINT', l.beam)
    expect(ms).toBeLessThan(2000)
    expect(await l.exited).toEqual({ code: 0, signal: null })
    expect(l.all.filter(alive)).toEqual([])
  })

  it('a signal beam does not handle (SIGUSR2) is passed on, and the launcher exits 128 + its number', async () => {
    const l = await launch([oldNode, bin, ...SHARE_ARGS])
    const ms = await signalAndWait(l.child.pid as number, 'SIGUSR2', l.beam)
    expect(ms).toBeLessThan(2000)
    expect(await l.exited).toEqual({ code: 128 + 12, signal: null })
    expect(l.all.filter(alive)).toEqual([])
  })

  it('SIGKILL to the launcher: beam sees its parent go and stops within 2 s', async () => {
    const l = await launch([oldNode, bin, ...SHARE_ARGS])
    const ms = await signalAndWait(l.child.pid as number, 'SIGKILL', l.beam)
    expect(ms).toBeLessThan(2000)
    expect(l.all.filter(alive)).toEqual([])
  })
})

describe('signals: bin/beam.js on an old Node that has process.execve (22.15 to 22.17)', () => {
  it('becomes the bundled Node in place: the started PID is beam; SIGTERM stops it within 2 s', async () => {
    const oldNode = fakeOldNode(join(scratch, 'old-node-execve'), '22.15.0')
    const l = await launch([oldNode, join(ROOT, 'bin', 'beam.js'), ...SHARE_ARGS])
    expect(l.all).toEqual([l.child.pid])
    expect(l.beam).toBe(l.child.pid)
    // the bundled Node's path as its argv[0]: the launcher's process.execve, not the old Node
    expect(readFileSync(`/proc/${l.beam}/cmdline`, 'utf8').split('\0')[0]).toBe(join(ROOT, 'node_modules', 'node', 'bin', 'node'))
    const ms = await signalAndWait(l.beam, 'SIGTERM', l.beam)
    expect(ms).toBeLessThan(2000)
    expect((await l.exited).code).toBe(0)
  })
})

describe('signals: npx beam in the checkout (npm, a shell, beam)', () => {
  it('SIGTERM to the npx PID stops beam within 2 s and leaves no process', async () => {
    // offline, with a cache of its own: `beam` is this checkout's own package, npm contacts no registry
    const l = await launch(['npx', '--no-install', 'beam', ...SHARE_ARGS], { npm_config_cache: join(scratch, 'npm-cache'), npm_config_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' })
    expect(l.all.length).toBeGreaterThanOrEqual(2)
    expect(l.beam).not.toBe(l.child.pid)
    const ms = await signalAndWait(l.child.pid as number, 'SIGTERM', l.beam)
    expect(ms, l.stderr()).toBeLessThan(2000)
    await l.exited
    expect(l.all.filter(alive)).toEqual([])
  })
})
