/**
 * Child processes of the benchmark: beam CLI processes and the helper scripts
 * (service, forwarder, holesail peers), each printing one JSON object per line
 * on stdout. Every process is killed by its PID; /proc gives RSS and CPU time.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * The beam launcher of this checkout, or the one BENCH_BEAM_BIN names (an A/B
 * run: another checkout's bin/beam.js measured by this driver).
 */
export const BEAM_BIN = process.env.BENCH_BEAM_BIN ?? fileURLToPath(new URL('../../bin/beam.js', import.meta.url))

/** A bench helper script next to this file. */
export function helper (name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url))
}

export interface JsonEvent { event: string, [key: string]: unknown }

/** Every process started by the benchmark, so that an abort can kill them all by PID. */
const running = new Set<Proc>()

/** A child process whose stdout lines are parsed as JSON events. */
export class Proc {
  readonly child: ChildProcess
  readonly name: string
  readonly events: JsonEvent[] = []
  readonly spawnedAt: number
  stderr = ''
  private waiters: Array<() => void> = []

  constructor (name: string, argv: string[], env: Record<string, string> = {}) {
    this.name = name
    this.spawnedAt = performance.now()
    // never the public STUN servers (the scenarios pass --no-default-bootstrap and their own ICE servers)
    this.child = spawn(argv[0] ?? process.execPath, argv.slice(1), { env: { ...process.env, BEAM_NO_PUBLIC_STUN: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    running.add(this)
    let buf = ''
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buf += s
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i).trim()
        buf = buf.slice(i + 1)
        if (line === '') continue
        try { this.events.push(JSON.parse(line) as JsonEvent) } catch { this.events.push({ event: '(not json)', line }) }
      }
      this.notify()
    })
    // keep only the tail: a process under load may log a lot
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr = (this.stderr + s).slice(-8000) })
    this.child.on('exit', () => { running.delete(this); this.notify() })
  }

  get pid (): number { return this.child.pid ?? 0 }
  get alive (): boolean { return this.child.exitCode == null && this.child.signalCode == null }

  private notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Wait for an event; fails with the stderr tail on timeout or exit. */
  async waitFor (name: string, timeoutMs: number, pred: (e: JsonEvent) => boolean = () => true): Promise<JsonEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.events.find(e => e.event === name && pred(e))
      if (hit != null) return hit
      if (!this.alive) throw new Error(`${this.name} exited (${String(this.child.exitCode ?? this.child.signalCode)}) before '${name}': ${this.stderr.slice(-1500)}`)
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${this.name}: no '${name}' within ${timeoutMs} ms: ${this.stderr.slice(-1500)}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.min(left, 250))
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** SIGTERM by PID, SIGKILL after `graceMs`. */
  async stop (graceMs = 3000): Promise<void> {
    if (!this.alive) return
    const exited = new Promise<void>(resolve => { this.child.once('exit', () => { resolve() }) })
    try { process.kill(this.pid, 'SIGTERM') } catch { return }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL') } catch {} }, graceMs)
    await exited
    clearTimeout(t)
  }
}

/** SIGKILL every process still running (by PID); for aborts and exits. */
export function killAll (): void {
  for (const p of running) {
    try { process.kill(p.pid, 'SIGKILL') } catch {}
  }
}

/** Where beam processes write V8 CPU profiles (`--cpu-prof`); unset: no profiling. */
let cpuProfileDir: string | undefined

/** Profile every beam process started from now on into `dir` (one `.cpuprofile` per process, written at exit). */
export function profileBeamInto (dir: string): void {
  cpuProfileDir = dir
}

/** A beam CLI process with `--json` and quiet logs. */
export function beam (name: string, args: string[], home: string, env: Record<string, string> = {}): Proc {
  const prof = cpuProfileDir != null ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfileDir}`, `--cpu-prof-name=${name.replace(/\W+/g, '-')}-\${pid}.cpuprofile`] : []
  return new Proc(name, [process.execPath, ...prof, BEAM_BIN, ...args, '--json'], {
    BEAM_HOME: home,
    BEAM_LOG_LEVEL: 'warn',
    // WebRTC gathers loopback host candidates only
    BEAM_WEBRTC_BIND: '127.0.0.1',
    ...env
  })
}

/** A bench helper script run with this Node. */
export function script (name: string, file: string, args: string[] = [], env: Record<string, string> = {}): Proc {
  return new Proc(name, [process.execPath, helper(file), ...args], env)
}

/** Resident set size of a process in MiB, from /proc; null when gone. */
export function rssMiB (pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m != null ? Number(m[1]) / 1024 : null
  } catch {
    return null
  }
}

/** User + system CPU seconds a process has used, from /proc/<pid>/stat; null when gone. */
/** Read and write system calls a process has made so far (/proc/PID/io's syscr and syscw), or null when it is gone. */
export function syscalls (pid: number): { reads: number, writes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8')
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN)
    const reads = field('syscr')
    const writes = field('syscw')
    return Number.isFinite(reads) && Number.isFinite(writes) ? { reads, writes } : null
  } catch {
    return null
  }
}

export function cpuSeconds (pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // the command name (field 2) may contain spaces: split after its ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // fields[0] is field 3 (state); utime is field 14, stime field 15
    const ticks = Number(fields[11]) + Number(fields[12])
    return ticks / 100
  } catch {
    return null
  }
}

/** Samples the peak RSS of some processes every `intervalMs` until stopped. */
export class RssSampler {
  private readonly peaks = new Map<string, number>()
  private readonly timer: ReturnType<typeof setInterval>
  constructor (procs: Record<string, number>, intervalMs = 100) {
    const sample = (): void => {
      for (const [k, pid] of Object.entries(procs)) {
        const r = rssMiB(pid)
        if (r != null && r > (this.peaks.get(k) ?? 0)) this.peaks.set(k, r)
      }
    }
    sample()
    this.timer = setInterval(sample, intervalMs)
  }

  stop (): Record<string, number> {
    clearInterval(this.timer)
    return Object.fromEntries(this.peaks)
  }
}
