import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The beam launcher of this checkout. */
export const BEAM_BIN = fileURLToPath(new URL('../../bin/beam.js', import.meta.url))

/** Loopback-only listen flags for shares in tests: nothing leaves 127.0.0.1. */
export const LOOPBACK_LISTEN = ['--listen', '/ip4/127.0.0.1/tcp/0', '--listen', '/ip4/127.0.0.1/udp/0/quic-v1']

/** Flags every test node gets: no bootstrap, no ICE server (never a public one). */
export const OFFLINE = ['--no-default-bootstrap']

export async function tempHome (): Promise<{ dir: string, cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'beam-test-'))
  return { dir, cleanup: async () => { await rm(dir, { recursive: true, force: true }) } }
}

export interface BeamEvent { event: string, [key: string]: unknown }

/** A running beam process whose --json events are parsed as they arrive. */
/** Starts `argv` with `env` merged over the environment; stdout and stderr must be pipes. */
export type BeamSpawner = (argv: string[], env: Record<string, string>) => ChildProcess

export class BeamProcess {
  readonly child: ChildProcess
  readonly events: BeamEvent[] = []
  stderr = ''
  stdoutText = ''
  readonly exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  private waiters: Array<() => void> = []

  /**
   * `spawner` starts the process elsewhere (e.g. inside a NAT lab namespace);
   * by default it runs here, with WebRTC pinned to loopback.
   */
  constructor (args: string[], env: Record<string, string> = {}, spawner?: BeamSpawner) {
    // WebRTC gathers loopback candidates only: no test traffic touches the host's interfaces
    const fullEnv = { BEAM_LOG_LEVEL: 'debug', BEAM_WEBRTC_BIND: '127.0.0.1', ...env }
    const argv = [process.execPath, BEAM_BIN, ...args]
    this.child = spawner != null
      ? spawner(argv, fullEnv)
      : spawn(argv[0] ?? process.execPath, argv.slice(1), { env: { ...process.env, ...fullEnv }, stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      this.stdoutText += s
      buf += s
      let i
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i)
        buf = buf.slice(i + 1)
        if (line.trim() === '') continue
        try { this.events.push(JSON.parse(line) as BeamEvent) } catch { this.events.push({ event: '(not json)', line }) }
        this.notify()
      }
    })
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => { this.stderr += s; this.notify() })
    this.exited = new Promise(resolve => {
      this.child.on('exit', (code, signal) => { resolve({ code, signal }); this.notify() })
    })
  }

  private notify (): void {
    const w = this.waiters
    this.waiters = []
    for (const f of w) f()
  }

  /** Wait for an event matching name (and predicate); fails with the stderr tail on timeout or exit. */
  async waitFor (name: string, timeoutMs = 30_000, pred: (e: BeamEvent) => boolean = () => true, from = 0): Promise<BeamEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.events.slice(from).find(e => e.event === name && pred(e))
      if (hit != null) return hit
      if (this.child.exitCode != null || this.child.signalCode != null) {
        throw new Error(`beam exited (${String(this.child.exitCode ?? this.child.signalCode)}) before '${name}'; stderr:\n${this.stderr.slice(-3000)}`)
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no '${name}' event within ${timeoutMs} ms; events: ${JSON.stringify(this.events).slice(0, 2000)}; stderr:\n${this.stderr.slice(-3000)}`)
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, Math.min(left, 500))
        this.waiters.push(() => { clearTimeout(t); resolve() })
      })
    }
  }

  /** Send a signal and wait for the exit; SIGKILL after `graceMs`. */
  async stop (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<{ code: number | null, signal: NodeJS.Signals | null, ms: number }> {
    const start = Date.now()
    if (this.child.exitCode == null && this.child.signalCode == null) {
      this.child.kill(signal)
      const t = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
      const r = await this.exited
      clearTimeout(t)
      return { ...r, ms: Date.now() - start }
    }
    return { ...(await this.exited), ms: 0 }
  }
}

/** Run beam to completion; returns exit code and output. Killed after `timeoutMs`. */
export async function runBeam (args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const p = new BeamProcess(args, env)
  const t = setTimeout(() => { p.child.kill('SIGKILL') }, timeoutMs)
  const r = await p.exited
  clearTimeout(t)
  return { code: r.code, stdout: p.stdoutText, stderr: p.stderr }
}

/** Start `beam share … --json` and wait for its ready event. */
export async function startShare (args: string[], home: string, env: Record<string, string> = {}): Promise<{ proc: BeamProcess, ready: BeamEvent, connect: string, peerId: string }> {
  const proc = new BeamProcess(['share', ...args, ...LOOPBACK_LISTEN, ...OFFLINE, '--json'], { BEAM_HOME: home, ...env })
  const ready = await proc.waitFor('ready', 30_000)
  return { proc, ready, connect: String(ready.connect), peerId: String(ready.peerId) }
}

/** Start `beam connect … --json` and wait until it listens. */
export async function startConnect (target: string, args: string[], home: string, env: Record<string, string> = {}): Promise<{ proc: BeamProcess, port: number }> {
  const proc = new BeamProcess(['connect', target, ...args, ...OFFLINE, '--json'], { BEAM_HOME: home, ...env })
  const ev = await proc.waitFor('listening', 40_000)
  return { proc, port: Number(ev.port) }
}
