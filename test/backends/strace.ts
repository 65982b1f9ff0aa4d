/**
 * Run a beam process under `strace -f -e trace=network` and read back every
 * socket it (or any of its threads and children) opened, connected, bound or
 * sent to: the leak check of Tor-only mode.
 */
import { spawn, execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { existsSync } from 'node:fs'
import { BeamProcess } from '../helpers/beam.ts'
import { need } from '../helpers/require-tools.ts'
import type { Need } from '../helpers/require-tools.ts'

export const STRACE_BIN = '/usr/bin/strace'
/** util-linux unshare, for {@link TraceOptions.resolvConf}. */
export const UNSHARE_BIN = '/usr/bin/unshare'

/** Whether strace is there (see {@link straceNeed}). */
export const HAVE_STRACE = existsSync(STRACE_BIN)

/** The leak-check suites' need, for suiteNeeds (test/helpers/require-tools.ts): they skip without strace, or fail in CI. */
export function straceNeed (): Need {
  return need(HAVE_STRACE, `${STRACE_BIN} is missing (apt install strace; scripts/install-test-deps.sh does it)`)
}

export interface TracedBeam {
  proc: BeamProcess
  traceFile: string
  /** SIGTERM the traced beam (strace ignores signals), wait for the exit. */
  stop: () => Promise<void>
}

/** Options of {@link startTraced}. */
export interface TraceOptions {
  /**
   * Run the traced beam in a mount namespace of its own in which this file
   * is bind-mounted over /etc/resolv.conf (needs root and unshare). A test
   * that provokes a DNS lookup points the resolver at loopback this way, so
   * a leak shows in the trace without a query ever leaving the machine.
   * @default unset (the host's /etc/resolv.conf)
   */
  resolvConf?: string
}

export function startTraced (args: string[], env: Record<string, string>, traceFile: string, options: TraceOptions = {}): TracedBeam {
  const strace = [STRACE_BIN, '-f', '--seccomp-bpf', '-qq', '-e', 'trace=network', '-o', traceFile]
  // unshare -m execs sh, which execs strace: the child's pid stays strace's (stop() below relies on it)
  const wrap = (argv: string[]): string[] => options.resolvConf == null
    ? [...strace, ...argv]
    : [UNSHARE_BIN, '-m', '--propagation', 'private', '/bin/sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', options.resolvConf, ...strace, ...argv]
  const proc = new BeamProcess(args, env, (argv, fullEnv) => {
    const full = wrap(argv)
    return spawn(full[0] ?? STRACE_BIN, full.slice(1), {
      env: { ...process.env, ...fullEnv },
      stdio: ['ignore', 'pipe', 'pipe']
    })
  })
  const stop = async (): Promise<void> => {
    if (proc.child.exitCode != null || proc.child.signalCode != null) return
    let pid = 0
    try {
      pid = Number(execFileSync('pgrep', ['-P', String(proc.child.pid)], { encoding: 'utf8' }).trim().split('\n')[0])
    } catch {}
    if (pid > 0) process.kill(pid, 'SIGTERM')
    const t = setTimeout(() => { if (pid > 0) { try { process.kill(pid, 'SIGKILL') } catch {} } proc.child.kill('SIGKILL') }, 8000)
    await proc.exited
    clearTimeout(t)
  }
  return { proc, traceFile, stop }
}

export interface SocketUse {
  syscall: string
  family: string
  address: string
  port: number
  line: string
}

export interface Trace {
  /** connect/bind/sendto/sendmsg with an inet or inet6 address. */
  inet: SocketUse[]
  /** socket() calls for UDP (SOCK_DGRAM) on inet/inet6. */
  udpSockets: string[]
  /** connect() to AF_UNIX paths (e.g. a resolver's socket). */
  unixConnects: string[]
  /** Total number of syscalls seen (to prove the trace is not empty). */
  lines: number
}

export async function readTrace (file: string): Promise<Trace> {
  const text = await readFile(file, 'utf8')
  const lines = text.split('\n').filter(l => l.trim() !== '')
  const trace: Trace = { inet: [], udpSockets: [], unixConnects: [], lines: lines.length }
  for (const line of lines) {
    const call = /^\d+\s+(\w+)\(/.exec(line)?.[1] ?? ''
    if (call === 'socket' && /AF_INET6?\b/.test(line) && /SOCK_DGRAM/.test(line)) trace.udpSockets.push(line)
    if (!['connect', 'bind', 'sendto', 'sendmsg'].includes(call)) continue
    const v4 = /sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)/.exec(line)
    const v6 = /sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"/.exec(line)
    const unix = /sa_family=AF_UNIX, sun_path=("[^"]*"|@"[^"]*")/.exec(line)
    if (v4 != null) trace.inet.push({ syscall: call, family: 'inet', address: v4[2] ?? '', port: Number(v4[1]), line })
    else if (v6 != null) trace.inet.push({ syscall: call, family: 'inet6', address: v6[2] ?? '', port: Number(v6[1]), line })
    else if (unix != null && call === 'connect') trace.unixConnects.push(line)
  }
  return trace
}

/** Every way a traced process could have left loopback or used UDP/DNS. */
export function leaks (trace: Trace, allowedConnectPorts: number[]): string[] {
  const out: string[] = []
  for (const u of trace.udpSockets) out.push(`UDP socket: ${u}`)
  for (const s of trace.inet) {
    if (s.family !== 'inet' || s.address !== '127.0.0.1') out.push(`${s.syscall} to ${s.address}:${s.port}: ${s.line}`)
    else if (s.port === 53) out.push(`${s.syscall} to port 53: ${s.line}`)
    else if (s.syscall === 'connect' && !allowedConnectPorts.includes(s.port)) out.push(`connect to 127.0.0.1:${s.port}, not an allowed port (${allowedConnectPorts.join(', ')})`)
    else if (s.syscall === 'sendto' || s.syscall === 'sendmsg') out.push(`datagram to ${s.address}:${s.port}: ${s.line}`)
  }
  for (const u of trace.unixConnects) out.push(`unix socket connect: ${u}`)
  return out
}
