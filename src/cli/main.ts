import { setFlagsFromString } from 'node:v8'
import { ExitCode } from './exit-codes.ts'
import { parentIsWrapper, watchParent } from './parent-watch.ts'
import { SMALL_BUFFER_SLAB } from './memory.ts'

// A tunnel allocates a fresh buffer for every 64 KiB it reads, encrypts or
// decrypts: ~3 bytes of ArrayBuffer per byte moved, almost all of it garbage
// at the next scavenge. By default V8 starts a full mark-compact whenever
// external memory has grown 64 MB since the last one: ~10 per second per
// process at 200 MB/s, half of all CPU time spent in GC. Counting external
// memory in the normal heap limits instead leaves those buffers to the
// scavenger (see docs/performance.md). Checked on V8 13.6 (Node 24); older V8
// may not know the flag and would print an error, so it is left alone there.
const [v8Major = 0, v8Minor = 0] = process.versions.v8.split('.').map(Number)
if (v8Major > 13 || (v8Major === 13 && v8Minor >= 6)) setFlagsFromString('--external-memory-accounted-in-global-limit')
// With those buffers left to the scavenger, how much of them waits for it is
// set by the size of V8's young generation, which V8 grows up to 16 MiB per
// semi-space here: a `beam connect` peaked at ~240 MiB RSS during a bulk
// download, mostly decrypted 64 KiB buffers already written out. Keeping the
// young generation at its initial size (no growth; the semi-space size
// itself can only be set when V8 starts, this flag is read at run time)
// scavenges them sooner: peaks of ~125–155 MiB, with the same throughput and
// CPU per byte (docs/performance.md, "Memory"). `beam relay` is left alone:
// its many long-lived circuit objects then reached old space sooner and
// doubled its CPU per relayed byte; it runs with its own flags (bin/beam.js).
if (process.argv[2] !== 'relay') setFlagsFromString('--semi-space-growth-factor=1')
// Node 24 cuts small Buffer.allocUnsafe() requests out of 64 KiB slabs (8 KiB
// before), and a small buffer that lives long keeps its whole slab: a
// connection's address bytes, for one, made when first asked for, long after
// the connection opened. A relay with 1,000 circuits held 261 such slabs
// (16 MiB), more each minute as addresses were first used. Slabs of 8 KiB
// hold an eighth of that; the cost is a slab allocation per 8 KiB of small
// buffers instead of per 64 KiB (docs/performance.md, "Soak").
Buffer.poolSize = SMALL_BUFFER_SLAB

/**
 * Process entry: the only place with process.exit and signal handlers.
 * SIGINT/SIGTERM/SIGHUP abort the running command (it closes listeners,
 * resets open streams and exits 0); a second signal exits at once. Under a
 * wrapper that drops signals (npx's shell, the launcher on an old Node), the
 * wrapper's going away counts as SIGTERM (parent-watch.ts).
 */
const controller = new AbortController()
let signals = 0
const onSignal = (): void => {
  signals++
  if (signals > 1) process.exit(ExitCode.INTERRUPTED)
  controller.abort()
  // whatever happens, never linger more than 2 s after the first signal
  setTimeout(() => { process.exit(ExitCode.OK) }, 1900).unref()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)
process.on('SIGHUP', onSignal)
// a signal may have come first (Ctrl-C reaches npm, its shell and beam): the
// wrapper's end that follows is the same stop, not a second signal
if (parentIsWrapper(process.env)) watchParent(() => { if (signals === 0) onSignal() })
process.on('unhandledRejection', (err) => {
  process.stderr.write(`beam: internal error: ${err instanceof Error ? err.message : String(err)}\n`)
  if (process.env.BEAM_DEBUG === '1' && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`)
})

const { runCli } = await import('./program.ts')

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
  stderrIsTTY: process.stderr.isTTY === true,
  openStdin: () => process.stdin,
  openStdout: () => process.stdout,
  requestStop: onSignal,
  processIds: { pid: process.pid, uid: process.getuid?.() ?? 0 }
})
process.exit(code)
