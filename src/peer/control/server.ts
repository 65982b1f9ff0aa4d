import { createServer } from 'node:net'
import type { AddressInfo, Server, Socket } from 'node:net'
import { chmod, lstat, mkdir, unlink } from 'node:fs/promises'
import { basename, dirname } from 'node:path'
import { CONTROL_PROTOCOL, LineSplitter } from './protocol.ts'
import type { ControlResponse, ControlTransport } from './protocol.ts'
import { ControlListenError } from './errors.ts'
import { controlRequest, probeSocket } from './client.ts'
import { newControlToken, tokenMatches, writeControlTokenFile } from './token-file.ts'
import type { LogRing } from './log-ring.ts'
import type { ProcessStatus } from './status.ts'
import type { Logger } from '../logger.ts'

/** Options of {@link startControlServer}. */
export interface ControlServerInit {
  /** The socket's path (`unix`) or the token file's (`tcp`); its folder is created with mode 0700, the file gets mode 0600. */
  path: string
  /** `unix`: a unix socket at `path`; `tcp`: a random port on 127.0.0.1, written with a token to the file at `path`. @default 'unix' */
  transport?: ControlTransport
  /** The pid written to the token file (`tcp`); clients check it against the file's name. @default process.pid */
  pid?: number
  /** The process's status now. */
  status: () => ProcessStatus
  /** The process's recent log lines. */
  logs: LogRing
  /** A share's connect string now (answers the `connect` request). @default none: the answer is null */
  connectString?: () => string | null
  /** Asked to stop the process (as a SIGTERM would). */
  onStop: () => void
  /** Logger (`component: control`). */
  log: Logger
  /** Clients connected at once at most; more are closed at once. @default 16 */
  maxClients?: number
  /** A client must send its request within this many ms. @default 5000 */
  requestTimeout?: number
}

/** {@link ControlServerInit.maxClients}. */
export const DEFAULT_CONTROL_CLIENTS = 16
/** {@link ControlServerInit.requestTimeout}. */
export const DEFAULT_CONTROL_REQUEST_TIMEOUT = 5000
/** Longest request line, in characters. */
const MAX_REQUEST = 4096

/** A running control endpoint. */
export interface ControlServer {
  /** The socket's path, or the token file's. */
  readonly path: string
  /** The port on 127.0.0.1 (`tcp`), else undefined. */
  readonly port?: number
  /** Stop listening, end followers and remove the socket or token file. */
  close: () => Promise<void>
}

/**
 * Open a process's control endpoint, speaking {@link CONTROL_PROTOCOL}: a
 * unix socket only its user can reach (folder 0700, socket 0600), or with
 * `transport: 'tcp'` a random port on 127.0.0.1 whose clients must first
 * send the token of the 0600 token file at `path`. A file left at `path` by
 * a killed process is replaced; one a live process answers on is not
 * (ControlListenError).
 */
export async function startControlServer (init: ControlServerInit): Promise<ControlServer> {
  const { path, log } = init
  const tcp = init.transport === 'tcp'
  const maxClients = init.maxClients ?? DEFAULT_CONTROL_CLIENTS
  const requestTimeout = init.requestTimeout ?? DEFAULT_CONTROL_REQUEST_TIMEOUT
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await chmod(dirname(path), 0o700)
  } catch (err) {
    throw new ControlListenError(`cannot create ${dirname(path)}: ${(err as Error).message}`, { cause: err })
  }
  const existing = await lstat(path).catch(() => undefined)
  if (existing != null) {
    if (tcp) {
      if (!existing.isFile()) throw new ControlListenError(`${path} exists and is not a file`)
      if (await tokenFileAnswers(path)) throw new ControlListenError(`${path} is in use by a running process`)
    } else {
      if (!existing.isSocket()) throw new ControlListenError(`${path} exists and is not a socket`)
      if (await probeSocket(path) === 'live') throw new ControlListenError(`${path} is in use by a running process`)
    }
    await unlink(path).catch(() => {})
  }
  const token = tcp ? newControlToken() : undefined
  const clients = new Set<Socket>()
  const unfollows = new Set<() => void>()
  const server: Server = createServer(socket => {
    if (clients.size >= maxClients) { socket.destroy(); return }
    clients.add(socket)
    socket.on('close', () => { clients.delete(socket) })
    socket.on('error', () => {})
    handle(socket, init, requestTimeout, unfollows, token)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', err => { reject(new ControlListenError(`cannot listen on ${tcp ? '127.0.0.1' : path}: ${err.message}`, { cause: err })) })
    if (tcp) server.listen({ host: '127.0.0.1', port: 0 }, () => { resolve() })
    else server.listen(path, () => { resolve() })
  })
  let port: number | undefined
  try {
    if (tcp && token != null) {
      port = (server.address() as AddressInfo).port
      await writeControlTokenFile(path, { protocol: CONTROL_PROTOCOL, pid: init.pid ?? process.pid, port, token })
    } else {
      // the folder is 0700 already: nobody else can reach the socket before this
      await chmod(path, 0o600)
    }
  } catch (err) {
    server.close()
    throw new ControlListenError(`cannot write ${path}: ${(err as Error).message}`, { cause: err })
  }
  server.on('error', err => { log.warn({ err: err.message }, 'control socket error') })
  log.debug({ path, port }, 'control socket open')
  let closed = false
  return {
    path,
    ...(port != null ? { port } : {}),
    close: async () => {
      if (closed) return
      closed = true
      for (const u of unfollows) u()
      for (const c of clients) c.destroy()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
      // net removes the socket file on close (the token file is beam's to remove); an error here means it is gone already
      await unlink(path).catch(() => {})
    }
  }
}

function send (socket: Socket, value: ControlResponse | { log: unknown }): void {
  if (!socket.destroyed) socket.write(JSON.stringify(value) + '\n')
}

/** Whether a live process answers a status request through the token file at `path`. */
async function tokenFileAnswers (path: string): Promise<boolean> {
  const m = /^(\d+)\.json$/.exec(basename(path))
  const uid = process.getuid?.() ?? 0
  return await controlRequest({ pid: Number(m?.[1] ?? 0), path, transport: 'tcp' }, { op: 'status' }, { uid, timeout: 1000 }).then(() => true, () => false)
}

function handle (socket: Socket, init: ControlServerInit, requestTimeout: number, unfollows: Set<() => void>, token: string | undefined): void {
  socket.setEncoding('utf8')
  const splitter = new LineSplitter(MAX_REQUEST)
  const timer = setTimeout(() => { socket.destroy() }, requestTimeout)
  const fail = (error: string): void => {
    send(socket, { protocol: CONTROL_PROTOCOL, ok: false, error })
    socket.end()
  }
  let answered = false
  // with a token, the first line must be it: anything else (a wrong token, a browser's request line) closes the connection unanswered
  let authenticated = token == null
  socket.on('close', () => { clearTimeout(timer) })
  socket.on('data', (chunk: string) => {
    if (answered) return
    let lines: string[]
    try {
      lines = splitter.push(chunk)
    } catch {
      answered = true
      if (authenticated) fail('request too long')
      else socket.destroy()
      return
    }
    if (!authenticated && token != null) {
      const got = lines.shift()
      if (got == null) return
      if (!tokenMatches(got, token)) {
        answered = true
        init.log.debug('control connection with a wrong token: closed')
        socket.destroy()
        return
      }
      authenticated = true
    }
    const first = lines[0]
    if (first == null) return
    answered = true
    clearTimeout(timer)
    let req: { protocol?: unknown, op?: unknown, since?: unknown, follow?: unknown }
    try {
      const parsed: unknown = JSON.parse(first)
      if (parsed == null || typeof parsed !== 'object') throw new Error('not an object')
      req = parsed
    } catch {
      fail(`not a ${CONTROL_PROTOCOL} request`)
      return
    }
    if (req.protocol !== CONTROL_PROTOCOL) { fail(`unsupported protocol ${String(req.protocol)}: this process speaks ${CONTROL_PROTOCOL}`); return }
    try {
      answer(socket, req, init, unfollows, fail)
    } catch (err) {
      fail(`cannot answer: ${(err as Error).message}`)
    }
  })
}

function answer (socket: Socket, req: { op?: unknown, since?: unknown, follow?: unknown }, init: ControlServerInit, unfollows: Set<() => void>, fail: (error: string) => void): void {
  switch (req.op) {
    case 'status':
      send(socket, { protocol: CONTROL_PROTOCOL, ok: true, status: init.status() })
      socket.end()
      return
    case 'connect':
      send(socket, { protocol: CONTROL_PROTOCOL, ok: true, connect: init.connectString?.() ?? null })
      socket.end()
      return
    case 'stop':
      send(socket, { protocol: CONTROL_PROTOCOL, ok: true, stopping: true })
      socket.end()
      init.log.info('stop asked through the control socket')
      init.onStop()
      return
    case 'logs': {
      const since = typeof req.since === 'number' && Number.isFinite(req.since) ? req.since : undefined
      const follow = req.follow === true
      send(socket, { protocol: CONTROL_PROTOCOL, ok: true, logs: init.logs.lines(since), following: follow })
      if (!follow) { socket.end(); return }
      const unfollow = init.logs.follow(entry => {
        // a follower that does not read is dropped rather than buffered without bound
        if (socket.writableLength > 1024 * 1024) { socket.destroy(); return }
        send(socket, { log: entry })
      })
      unfollows.add(unfollow)
      socket.on('close', () => { unfollow(); unfollows.delete(unfollow) })
      return
    }
    default:
      fail(`unknown request ${String(req.op)}`)
  }
}
