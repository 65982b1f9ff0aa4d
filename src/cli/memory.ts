/**
 * Memory of a long-running beam process: a report on demand (SIGUSR2), and a
 * collection when a tunnel has gone quiet after load.
 *
 * What a share's memory did after load (docs/performance.md, "Memory after
 * load"): its JS heap came back to its idle size, but the 64 KiB buffers of
 * the last transfers (~9 MiB of ArrayBuffers after five 64 MiB downloads)
 * stayed allocated for good. They were garbage, freed by the next GC, but a
 * process with no traffic allocates nothing and so never collects again. The
 * idle collector runs one full collection when the process has been quiet
 * for a while with such buffers still around. The rest of the growth in RSS
 * is glibc's heap keeping freed memory, measured there.
 */
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { Output } from './output.ts'

/** Buffer.poolSize of beam's processes: Node ≤ 22's 8 KiB slabs, not Node 24's 64 KiB (see main.ts). */
export const SMALL_BUFFER_SLAB = 8 * 1024

/** One report: `process.memoryUsage()` in bytes. */
export interface MemoryReport {
  rss: number
  heapTotal: number
  heapUsed: number
  external: number
  arrayBuffers: number
  /** Buffer.poolSize: the slab small Buffers are cut from. */
  bufferPoolSize: number
}

export function memoryReport (): MemoryReport {
  const m = process.memoryUsage()
  return { rss: m.rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, bufferPoolSize: Buffer.poolSize }
}

export interface IdleCollectorOptions {
  /**
   * How often the process looks at its ArrayBuffer memory, in ms.
   * @default 5000
   */
  intervalMs?: number
  /**
   * Collect only when at least this many bytes of ArrayBuffers are allocated.
   * @default 4 MiB
   */
  minArrayBuffers?: number
  /**
   * Quiet means ArrayBuffer memory moved by less than this between two looks.
   * @default 256 KiB
   */
  quietBytes?: number
}

export const IDLE_COLLECT_INTERVAL_MS = 5000
export const IDLE_COLLECT_MIN_ARRAY_BUFFERS = 4 * 1024 * 1024
export const IDLE_QUIET_BYTES = 256 * 1024

let collect: (() => void) | undefined

/** V8's full collection, reached without starting Node with --expose-gc (the flag is read when a context is made). */
function fullGc (): void {
  if (collect == null) {
    setFlagsFromString('--expose-gc')
    collect = runInNewContext('gc') as () => void
  }
  collect()
}

/**
 * Runs one full collection whenever the process has been quiet (its
 * ArrayBuffer memory unchanged between two looks) with buffers still
 * allocated; returns a function that stops it. Under load the buffers change
 * at every look, so nothing is collected there that V8 would not collect by
 * itself. The timer never keeps the process alive.
 */
export function startIdleCollector (options: IdleCollectorOptions = {}): () => void {
  const intervalMs = options.intervalMs ?? IDLE_COLLECT_INTERVAL_MS
  const minArrayBuffers = options.minArrayBuffers ?? IDLE_COLLECT_MIN_ARRAY_BUFFERS
  const quietBytes = options.quietBytes ?? IDLE_QUIET_BYTES
  let last = -1
  const timer = setInterval(() => {
    const now = process.memoryUsage().arrayBuffers
    const quiet = last >= 0 && Math.abs(now - last) < quietBytes
    last = now
    if (quiet && now >= minArrayBuffers) {
      fullGc()
      last = process.memoryUsage().arrayBuffers
    }
  }, intervalMs)
  timer.unref()
  return () => { clearInterval(timer) }
}

/**
 * Answers SIGUSR2 with a `memory` event (with --json; a line on stderr
 * otherwise) until the returned function is called.
 */
export function reportMemoryOnSignal (out: Output): () => void {
  const onSignal = (): void => {
    const m = memoryReport()
    out.event('memory', { ...m })
    const mib = (x: number): string => (x / 1024 / 1024).toFixed(1)
    out.say(`memory: rss ${mib(m.rss)} MiB, JS heap ${mib(m.heapUsed)} of ${mib(m.heapTotal)} MiB, ArrayBuffers ${mib(m.arrayBuffers)} MiB, external ${mib(m.external)} MiB`)
  }
  process.on('SIGUSR2', onSignal)
  return () => { process.off('SIGUSR2', onSignal) }
}
