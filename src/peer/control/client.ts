import { connect } from 'node:net'
import { lstat, readdir, unlink } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { CONTROL_PROTOCOL, LineSplitter } from './protocol.ts'
import type { ControlLogLine, ControlOp, ControlResponse, ControlTransport } from './protocol.ts'
import { ControlProtocolError, ControlSocketUnsafeError, ControlTokenRefusedError, ProcessGoneError } from './errors.ts'
import { processExists, readControlTokenFile } from './token-file.ts'
import type { LogEntry } from './log-ring.ts'

/** A process's control endpoint found in the run folder. */
export interface ControlSocketEntry {
  /** The process id (the file is named `<pid>.sock`, or `<pid>.json` for a token file). */
  pid: number
  /** The socket's path, or the token file's. */
  path: string
  /** `tcp`: `path` is a token file naming a loopback port. @default 'unix' */
  transport?: ControlTransport
}

/** The file name of a process's control socket. */
export const controlSocketName = (pid: number): string => `${pid}.sock`

/** Control sockets and token files in a run folder, by pid (none when the folder does not exist). */
export async function listControlSockets (dir: string): Promise<ControlSocketEntry[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  return names.flatMap(n => {
    const m = /^(\d{1,10})\.(sock|json)$/.exec(n)
    if (m == null) return []
    const entry: ControlSocketEntry = { pid: Number(m[1]), path: join(dir, n) }
    if (m[2] === 'json') entry.transport = 'tcp'
    return [entry]
  }).sort((a, b) => a.pid - b.pid)
}

/**
 * Refuse a socket file that this user does not own alone: not a socket,
 * owned by another uid, or open to group or others, or in a folder that
 * is not this user's or that others may write to. Talking to it would let
 * another user pose as a beam process (and read what `beam logs` shows).
 */
export async function checkControlSocket (path: string, uid: number): Promise<void> {
  // a folder others may write to lets them swap the socket between this check and the connect
  const dir = await lstat(dirname(path))
  if (dir.uid !== uid) throw new ControlSocketUnsafeError(`${dirname(path)} belongs to uid ${dir.uid}, not to this user (uid ${uid})`, path)
  if ((dir.mode & 0o022) !== 0) throw new ControlSocketUnsafeError(`${dirname(path)} is writable by other users (mode ${(dir.mode & 0o777).toString(8)})`, path)
  const st = await lstat(path)
  if (!st.isSocket()) throw new ControlSocketUnsafeError(`${path} is not a socket`, path)
  if (st.uid !== uid) throw new ControlSocketUnsafeError(`${path} belongs to uid ${st.uid}, not to this user (uid ${uid})`, path)
  if ((st.mode & 0o077) !== 0) throw new ControlSocketUnsafeError(`${path} is open to other users (mode ${(st.mode & 0o777).toString(8)})`, path)
}

/** Whether a process listens on a socket file: `stale` when nobody does (a killed process left it), `unknown` on other errors. */
export async function probeSocket (path: string, timeout = 1000): Promise<'live' | 'stale' | 'unknown'> {
  return await new Promise(resolve => {
    const s = connect(path)
    const done = (r: 'live' | 'stale' | 'unknown'): void => { clearTimeout(t); s.destroy(); resolve(r) }
    const t = setTimeout(() => { done('unknown') }, timeout)
    s.once('connect', () => { done('live') })
    s.once('error', (err: NodeJS.ErrnoException) => { done(err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? 'stale' : 'unknown') })
  })
}

/** Options of {@link controlRequest}. */
export interface ControlRequestOptions {
  /** The uid the socket must belong to (see {@link checkControlSocket}). */
  uid: number
  /** The answer must start within this many ms. @default 3000 */
  timeout?: number
  /** Ends a following logs request. @default unset */
  signal?: AbortSignal
  /** Told of each new log line of a following logs request. @default unset */
  onLog?: (entry: LogEntry) => void
  /** Told of the first answer as soon as it comes (before any followed log line). @default unset */
  onFirst?: (response: ControlResponse) => void
  /** Remove the socket file when no process listens on it. @default false */
  removeStale?: boolean
}

/** {@link ControlRequestOptions.timeout}. */
export const DEFAULT_CONTROL_TIMEOUT = 3000

/**
 * Send one request to a process's control socket (or, for a token file,
 * its loopback port, the token first) and return its answer (for a
 * following logs request: once the signal aborts or the process closes).
 * Rejects with ControlSocketUnsafeError (not this user's alone),
 * ControlTokenRefusedError (the port's listener closed on the token),
 * ProcessGoneError (nobody listens, the process is gone, or no answer in time),
 * ControlProtocolError (the answer is not this protocol), or an Error with
 * the process's own refusal.
 */
export async function controlRequest (entry: ControlSocketEntry, request: ControlOp, options: ControlRequestOptions): Promise<ControlResponse> {
  const target = await resolveEndpoint(entry, options)
  const timeout = options.timeout ?? DEFAULT_CONTROL_TIMEOUT
  const what = entry.transport === 'tcp' ? 'control token file' : 'control socket'
  return await new Promise<ControlResponse>((resolve, reject) => {
    const s = target.port != null ? connect({ host: '127.0.0.1', port: target.port }) : connect(entry.path)
    s.setEncoding('utf8')
    const splitter = new LineSplitter()
    let first: ControlResponse | undefined
    let settled = false
    // nobody listens: the error handler finishes (after removing the file, maybe); 'close' must not
    let refused = false
    const finish = (err: Error | undefined, value?: ControlResponse): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      s.destroy()
      if (err != null) reject(err)
      else if (value != null) resolve(value)
    }
    const onAbort = (): void => { finish(first == null ? options.signal?.reason as Error : undefined, first) }
    const timer = setTimeout(() => { finish(new ProcessGoneError(`process ${entry.pid} did not answer on its ${what} within ${timeout} ms`, entry.pid)) }, timeout)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    s.once('connect', () => { s.write((target.token != null ? target.token + '\n' : '') + JSON.stringify({ protocol: CONTROL_PROTOCOL, ...request }) + '\n') })
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') {
        refused = true
        void removeStale(entry, options).then(removed => { finish(new ProcessGoneError(`process ${entry.pid} is not running (its ${what} is stale${removed ? '; removed it' : ''})`, entry.pid, removed)) })
        return
      }
      if (first == null && target.token != null && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) { finish(tokenRefused()); return }
      finish(first == null ? new ProcessGoneError(`process ${entry.pid}: ${err.message}`, entry.pid) : undefined, first)
    })
    // the listener closed before answering: it did not take the token (a reset, if the request was still unread)
    const tokenRefused = (): Error => new ControlTokenRefusedError(`127.0.0.1:${target.port ?? 0} refused the token of ${entry.path}: the file is not that process's (forged or outdated, or another program holds the port)`, entry.path)
    s.on('close', () => {
      if (refused) return
      if (first != null) finish(undefined, first)
      else if (target.token != null) finish(tokenRefused())
      else finish(new ControlProtocolError(`process ${entry.pid} closed its control socket without an answer`))
    })
    s.on('data', (chunk: string) => {
      let lines: string[]
      try {
        lines = splitter.push(chunk)
      } catch (err) {
        finish(new ControlProtocolError(`process ${entry.pid}: ${(err as Error).message}`))
        return
      }
      for (const line of lines) {
        if (first == null) {
          const parsed = parseResponse(line)
          if (parsed == null) { finish(new ControlProtocolError(`${entry.path} does not speak ${CONTROL_PROTOCOL}`)); return }
          if (!parsed.ok) {
            finish(/protocol/.test(parsed.error) ? new ControlProtocolError(`process ${entry.pid}: ${parsed.error}`) : new Error(`process ${entry.pid}: ${parsed.error}`))
            return
          }
          first = parsed
          clearTimeout(timer)
          options.onFirst?.(parsed)
          if (!('following' in parsed) || !parsed.following) { finish(undefined, first); return }
        } else {
          try {
            const l = JSON.parse(line) as ControlLogLine
            if (l.log != null) options.onLog?.(l.log)
          } catch {
            finish(new ControlProtocolError(`process ${entry.pid} sent a line that is not JSON`))
            return
          }
        }
      }
    })
  })
}

/** Where to connect: the socket at the entry's path, or the port and token of its token file (after checking both). */
async function resolveEndpoint (entry: ControlSocketEntry, options: ControlRequestOptions): Promise<{ port?: number, token?: string }> {
  if (entry.transport !== 'tcp') {
    await checkControlSocket(entry.path, options.uid)
    return {}
  }
  let file
  try {
    file = await readControlTokenFile(entry.path, options.uid)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ProcessGoneError(`process ${entry.pid} is not running (its control token file is gone)`, entry.pid)
    throw err
  }
  if (file.pid !== entry.pid) throw new ControlSocketUnsafeError(`${entry.path} is for pid ${file.pid}, not ${entry.pid}`, entry.path)
  // a port outlives nothing: once the process is gone, another program may hold it
  if (!processExists(file.pid)) {
    const removed = await removeStale(entry, options)
    throw new ProcessGoneError(`process ${entry.pid} is not running (its control token file is stale${removed ? '; removed it' : ''})`, entry.pid, removed)
  }
  return { port: file.port, token: file.token }
}

/** Remove a stale socket or token file when asked to; whether it was removed. */
async function removeStale (entry: ControlSocketEntry, options: ControlRequestOptions): Promise<boolean> {
  return options.removeStale === true ? await unlink(entry.path).then(() => true, () => false) : false
}

function parseResponse (line: string): ControlResponse | undefined {
  try {
    const v = JSON.parse(line) as Partial<ControlResponse> | null
    if (v == null || typeof v !== 'object' || v.protocol !== CONTROL_PROTOCOL || typeof v.ok !== 'boolean') return undefined
    return v as ControlResponse
  } catch {
    return undefined
  }
}
