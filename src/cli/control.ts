/**
 * The CLI's side of the control plane: where a home's control sockets live
 * (`$BEAM_HOME/run/<pid>.sock`, or `<pid>.json` token files of loopback
 * ports where there are no unix sockets), opening one for a long-running command,
 * and finding the processes `beam status`, `logs`, `stop` and `cleanup` act on.
 */
import { join } from 'node:path'
import { StatusTracker, controlRequest, controlSocketName, controlTokenFileName, listControlSockets, startControlServer, LogRing, ProcessGoneError } from '../peer/index.ts'
import type { BeamNode, ControlServer, ControlTransport, ControlSocketEntry, ProcessInfo, ProcessStatus } from '../peer/index.ts'
import type { CliIo, Context } from './context.ts'
import { UsageError } from './exit-codes.ts'

/** Where a home's control sockets are: `$BEAM_HOME/run`. */
export const runDir = (home: string): string => join(home, 'run')

/**
 * The control transport of this process: `BEAM_CONTROL` (`unix` or `tcp`),
 * else a loopback port with a token file on Windows (Node has no unix
 * sockets there, only named pipes) and a unix socket elsewhere.
 */
export function controlTransport (env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): ControlTransport {
  const v = env.BEAM_CONTROL?.trim().toLowerCase()
  if (v == null || v === '') return platform === 'win32' ? 'tcp' : 'unix'
  if (v === 'unix' || v === 'tcp') return v
  throw new UsageError(`invalid BEAM_CONTROL '${env.BEAM_CONTROL ?? ''}': expected unix or tcp`)
}

/** A long-running command's control endpoint. */
export interface ControlHandle {
  /** Aborted on SIGINT/SIGTERM or on a stop asked through the socket: the command then stops. */
  signal: AbortSignal
  /** What `beam status` shows of this process (watch the share or connect tunnel with it). */
  tracker: StatusTracker
  /** Close the socket (and remove its file). */
  close: () => Promise<void>
}

/**
 * Open this process's control socket. Without process ids (an in-process
 * run) there is no socket, only the tracker. A socket that cannot be opened
 * is a warning: the tunnel matters more than `beam status`.
 */
export async function openControl (ctx: Context, io: CliIo, info: Omit<ProcessInfo, 'pid' | 'logFile'>, node: BeamNode, connectString?: () => string | null): Promise<ControlHandle> {
  const local = new AbortController()
  const signal = AbortSignal.any([io.signal, local.signal])
  const ids = io.processIds
  const tracker = new StatusTracker({ ...info, pid: ids?.pid ?? 0, logFile: ctx.logFile?.path ?? null, node })
  let server: ControlServer | undefined
  if (ids != null) {
    const transport = ctx.control ?? controlTransport(io.env)
    try {
      server = await startControlServer({
        path: join(runDir(ctx.home), transport === 'tcp' ? controlTokenFileName(ids.pid) : controlSocketName(ids.pid)),
        transport,
        pid: ids.pid,
        status: () => tracker.snapshot(),
        logs: ctx.logs ?? new LogRing(),
        ...(connectString != null ? { connectString } : {}),
        onStop: () => { if (io.requestStop != null) io.requestStop(); else local.abort() },
        log: ctx.log.child({ component: 'control' })
      })
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, `no control socket (beam status and beam stop will not see this process): ${(err as Error).message}`)
    }
  }
  return {
    signal,
    tracker,
    close: async () => {
      await server?.close()
      ctx.logFile?.close()
    }
  }
}

/** A process of this home and its status (or why it has none). */
export interface FoundProcess {
  /** Its control socket. */
  entry: ControlSocketEntry
  /** Its status, when it answered. */
  status?: ProcessStatus
  /** Why it did not answer (ProcessGoneError: stale socket; others: unsafe socket, wrong protocol). */
  error?: Error
}

/** Ask every control socket of the home for its status; stale sockets are removed when `removeStale`. */
export async function findProcesses (home: string, uid: number, options: { removeStale?: boolean } = {}): Promise<FoundProcess[]> {
  const entries = await listControlSockets(runDir(home))
  return await Promise.all(entries.map(async entry => {
    try {
      const r = await controlRequest(entry, { op: 'status' }, { uid, removeStale: options.removeStale === true })
      return 'status' in r ? { entry, status: r.status } : { entry, error: new Error('no status in the answer') }
    } catch (err) {
      return { entry, error: err as Error }
    }
  }))
}

/** No beam process of this home matches a name or pid. */
export class NoSuchProcessError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'NoSuchProcessError'
  }
}

/**
 * The processes a `name|pid` selector means (all when none is given). A pid
 * whose socket is stale, unsafe or speaks another protocol throws that
 * error; an unknown name or pid throws NoSuchProcessError.
 */
export function select (found: FoundProcess[], selector: string | undefined, home: string): FoundProcess[] {
  if (selector == null) return found.filter(f => f.status != null)
  if (/^\d+$/.test(selector)) {
    const pid = Number(selector)
    const hit = found.find(f => f.entry.pid === pid)
    if (hit == null) throw new NoSuchProcessError(`no beam process with pid ${pid} in ${home}`)
    if (hit.error != null) throw hit.error
    return [hit]
  }
  if (selector.trim() === '') throw new UsageError('empty process name')
  const hits = found.filter(f => f.status?.name === selector)
  if (hits.length === 0) {
    const names = found.flatMap(f => f.status?.name != null ? [f.status.name] : [])
    throw new NoSuchProcessError(`no beam process named '${selector}' in ${home}${names.length > 0 ? ` (running: ${names.join(', ')})` : ''}`)
  }
  return hits
}

/** Whether an error means the process is gone (a stale socket). */
export const isGone = (err: Error | undefined): boolean => err instanceof ProcessGoneError
