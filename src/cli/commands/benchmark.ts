import { Command } from 'commander'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BENCH_BACKENDS, createBeam, ephemeralIdentity } from '../../peer/index.ts'
import type { BeamNode, BenchBackend, BenchProgress, BenchResult } from '../../peer/index.ts'
import { homePaths } from '../home.ts'
import { addIdentityOptions, addNetworkOptions, addOutputOptions, createContext } from '../context.ts'
import { nodeSettings, toBeamInit } from '../settings/index.ts'
import type { CliIo, CommonFlags } from '../context.ts'
import { UsageError } from '../exit-codes.ts'
import { parseDuration, parseMillis, splitList } from '../parse.ts'
import { stopWithin } from '../shutdown.ts'
import { resolveTargetText } from './connect.ts'
import { readTargetInput, withHiddenTarget } from '../secret-input.ts'

interface BenchmarkFlags extends CommonFlags {
  backends?: string
  duration: string
  timeout: string
  connectFile?: string
}

export function benchmarkCommand (io: CliIo): Command {
  const cmd = new Command('benchmark')
    .description('measure throughput (each direction) and round-trip time to a peer\'s share over each path it offers')
    .argument('[target]', 'connect string, peer id, name.peer-id-prefix (DHT), or alias of a running share; - reads it from standard input (default: $BEAM_CONNECT)')
    .option('--connect-file <file>', 'read the target from the first line of a file (- for standard input): keeps the connect string\'s secret out of ps')
    .option('--backends <list>', `paths to measure, comma-separated, from ${BENCH_BACKENDS.join(',')} (default: every path the peer offers)`)
    .option('--duration <time>', 'time spent measuring each path, split between upload and download, e.g. 10s', '10s')
    .option('--timeout <ms>', 'give up dialling one path after this many ms', '15000')
  addIdentityOptions(cmd)
  addNetworkOptions(cmd)
  addOutputOptions(cmd, 'warn')
  cmd.action(async (target: string | undefined, flags: BenchmarkFlags) => { await runBenchmarkCommand(target, flags, io) })
  return cmd
}

/** `tcp,quic` → the paths, in the order given; rejects unknown names. */
export function parseBackends (text: string): BenchBackend[] {
  const names = splitList(text)
  if (names.length === 0) throw new UsageError(`invalid --backends '${text}': name at least one of ${BENCH_BACKENDS.join(', ')}`)
  const out: BenchBackend[] = []
  for (const n of names) {
    if (!(BENCH_BACKENDS as readonly string[]).includes(n)) throw new UsageError(`invalid --backends entry '${n}': expected ${BENCH_BACKENDS.join(', ')}`)
    if (!out.includes(n as BenchBackend)) out.push(n as BenchBackend)
  }
  return out
}

function progressLine (p: BenchProgress): string {
  if (p.phase === 'dial' || p.phase === 'rtt') return `${p.backend.padEnd(7)} ${p.phase === 'dial' ? 'dialling' : 'round trips'}…`
  const total = p.durationMs ?? 1
  const filled = Math.max(0, Math.min(20, Math.round((p.elapsedMs / total) * 20)))
  const rate = p.elapsedMs > 0 ? p.bytes / 1e6 / (p.elapsedMs / 1000) : 0
  return `${p.backend.padEnd(7)} ${p.phase.padEnd(8)} [${'#'.repeat(filled)}${'-'.repeat(20 - filled)}] ${(p.elapsedMs / 1000).toFixed(1)} s  ${rate.toFixed(1)} MB/s`
}

function num (x: number | undefined, digits = 1): string {
  return x == null ? '-' : x.toFixed(digits)
}

/** The comparison table, one line per path. */
export function formatTable (peerId: string, durationMs: number, results: BenchResult[]): string {
  const lines = ['', `beam benchmark: ${peerId} (${durationMs / 1000} s per path)`, '', `${'path'.padEnd(8)}${'rtt ms'.padStart(8)}${'upload MB/s'.padStart(14)}${'download MB/s'.padStart(16)}  remote`]
  for (const r of results) {
    if (!r.ok) lines.push(`${r.backend.padEnd(8)}failed: ${r.error ?? 'unknown error'}`)
    else lines.push(`${r.backend.padEnd(8)}${num(r.rttMs, 2).padStart(8)}${num(r.uploadMBps).padStart(14)}${num(r.downloadMBps).padStart(16)}  ${r.remote ?? ''}`)
  }
  lines.push('')
  return lines.join('\n')
}

async function runBenchmarkCommand (targetArg: string | undefined, flags: BenchmarkFlags, io: CliIo): Promise<void> {
  const input = await readTargetInput(targetArg, flags.connectFile, io)
  const backends = flags.backends != null ? parseBackends(flags.backends) : undefined
  const durationMs = parseDuration(flags.duration, 'duration')
  if (durationMs < 200 || durationMs > 120_000) throw new UsageError(`invalid duration '${flags.duration}': expected 0.2 s to 120 s`)
  const dialTimeout = parseMillis(flags.timeout, 'timeout')
  const ctx = createContext(flags, io)
  const resolved = await withHiddenTarget(input, async () => await resolveTargetText(input.text, homePaths(ctx.home).aliases))
  const init = await toBeamInit(await nodeSettings(flags, io, ctx.log), { ctx, node: { listen: [], lookupTimeout: dialTimeout } })
  if (resolved.target != null && init.privateKey != null && peerIdFromPrivateKey(init.privateKey).equals(resolved.target.peerId)) {
    // a share running here under the same BEAM_HOME: a node cannot dial itself
    init.privateKey = await ephemeralIdentity()
  }
  const node: BeamNode = await createBeam(init)
  const tty = !ctx.out.json && io.stderrIsTTY
  let progressShown = false
  const clearProgress = (): void => { if (progressShown) { io.stderr.write('\r\x1b[K'); progressShown = false } }
  try {
    // a connect string's secret starts at character ~70: show the peer id instead of the text
    ctx.out.event('benchmark-start', { target: resolved.target?.peerId.toString() ?? resolved.text, backends: backends ?? null, durationMs })
    const results = await node.benchmark(resolved.target ?? resolved.text, {
      ...(backends != null ? { backends } : {}),
      durationMs,
      dialTimeout,
      signal: io.signal,
      onProgress: p => {
        if (!tty) return
        io.stderr.write(`\r\x1b[K${progressLine(p)}`)
        progressShown = true
      },
      onResult: r => {
        clearProgress()
        ctx.out.event('benchmark-result', { ...r })
        if (!ctx.out.json && !tty) ctx.out.say(`${r.backend}: ${r.ok ? `rtt ${num(r.rttMs, 2)} ms, upload ${num(r.uploadMBps)} MB/s, download ${num(r.downloadMBps)} MB/s` : `failed: ${r.error ?? ''}`}`)
      }
    })
    clearProgress()
    const peerId = (resolved.target?.peerId ?? node.peerId).toString()
    ctx.out.event('benchmark', { peerId: resolved.target != null ? peerId : null, durationMs, results })
    if (!ctx.out.json) io.stdout.write(formatTable(resolved.target != null ? peerId : resolved.text, durationMs, results))
  } finally {
    clearProgress()
    await stopWithin(node, ctx.log)
  }
}
