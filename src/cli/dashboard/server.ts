import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:net'
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { AddressInUseError, ListenError } from '../../tunnel/index.ts'
import { encodeQr, renderQrSvg } from '../qr/index.ts'
import type { Logger } from '../../peer/index.ts'
import { checkRequest, cookieName, newDashboardToken } from './guard.ts'
import type { DashboardProcess, DashboardSource } from './source.ts'

/** Options of {@link startDashboard}. */
export interface DashboardInit {
  /** What it shows. */
  source: DashboardSource
  /** The page's title (`beam share web`, `beam dashboard`). */
  title: string
  /** Logger (`component: dashboard`). */
  log: Logger
  /** The port on 127.0.0.1; 0 picks a free one. @default 0 */
  port?: number
  /** The access token. @default 32 random bytes, base64url */
  token?: string
  /** How often the source is read and pushed to the open pages, in ms. @default 1000 */
  interval?: number
  /** Throughput samples kept (one per interval: 300 at 1 s is five minutes). @default 300 */
  historySamples?: number
  /** Log lines kept for a page that opens. @default 200 */
  logLines?: number
  /** Pages following the live stream at once; more get 503. @default 8 */
  maxClients?: number
}

/** {@link DashboardInit.interval}. */
export const DEFAULT_DASHBOARD_INTERVAL = 1000
/** {@link DashboardInit.historySamples}. */
export const DEFAULT_DASHBOARD_HISTORY = 300
/** {@link DashboardInit.logLines}. */
export const DEFAULT_DASHBOARD_LOG_LINES = 200
/** {@link DashboardInit.maxClients}. */
export const DEFAULT_DASHBOARD_CLIENTS = 8
/** Where the dashboard lives on its server. */
export const DASHBOARD_PATH = '/_beam/'

/** A running dashboard. */
export interface Dashboard {
  /** The URL to open, token included: `http://127.0.0.1:PORT/_beam/?token=…`. */
  readonly url: string
  /** The port it listens on (127.0.0.1). */
  readonly port: number
  /** Stop serving and end the open pages. */
  close: () => Promise<void>
}

/** The page's files: `src/cli/dashboard/static`, searched from this module up (sources, dist/cli/dashboard and dist/bundle sit at different depths; the package ships src/). */
export const STATIC_DIR = findStatic(dirname(fileURLToPath(import.meta.url)))

function findStatic (from: string): string {
  const own = join(from, 'static')
  if (existsSync(join(own, 'index.html'))) return own
  let dir = from
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'src', 'cli', 'dashboard', 'static')
    if (existsSync(join(candidate, 'index.html'))) return candidate
    dir = dirname(dir)
  }
  return own
}

const FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8'
}

/** Sent with every answer: only this origin's own files, no framing, no referrer, no caching. */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'cross-origin-resource-policy': 'same-origin'
}

/** One throughput sample: bytes sent and received so far, per process. */
interface Sample { t: number, bytes: Record<number, [number, number]> }
/** A log line as the page shows it. */
interface PageLog { pid: number, time: number, level: string, component: string | null, msg: string }

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

function pageLog (pid: number, time: number, line: string): PageLog {
  try {
    const p = JSON.parse(line) as { level?: number, component?: string, msg?: string, err?: unknown }
    const err = typeof p.err === 'string' ? ` (${p.err})` : ''
    return { pid, time, level: LEVELS[p.level ?? 30] ?? 'info', component: typeof p.component === 'string' ? p.component : null, msg: `${p.msg ?? ''}${err}` }
  } catch {
    return { pid, time, level: 'info', component: null, msg: line }
  }
}

/**
 * Serve a dashboard on 127.0.0.1: the page at {@link DASHBOARD_PATH}, its
 * live state as server-sent events (`/_beam/events`), a share's connect
 * string as a QR code (`/_beam/qr.svg?pid=N`) and the state as JSON
 * (`/_beam/api/status`). Every request must carry the token (the URL's
 * `?token=`, then an HttpOnly SameSite=Strict cookie) and a Host (and any
 * Origin) of this address and port.
 */
export async function startDashboard (init: DashboardInit): Promise<Dashboard> {
  const { source, log } = init
  const token = init.token ?? newDashboardToken()
  const interval = init.interval ?? DEFAULT_DASHBOARD_INTERVAL
  const maxSamples = init.historySamples ?? DEFAULT_DASHBOARD_HISTORY
  const maxLogs = init.logLines ?? DEFAULT_DASHBOARD_LOG_LINES
  const maxClients = init.maxClients ?? DEFAULT_DASHBOARD_CLIENTS
  const files = new Map<string, Buffer>()
  for (const name of Object.keys(FILES)) {
    try {
      files.set(name, await readFile(join(STATIC_DIR, name)))
    } catch (err) {
      throw new ListenError(`the dashboard's files are missing (${join(STATIC_DIR, name)}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, err)
    }
  }

  let processes: DashboardProcess[] = []
  const history: Sample[] = []
  const logs: PageLog[] = []
  const clients = new Set<ServerResponse>()
  const qrCache = new Map<string, string>()
  let port = 0

  const push = (event: string, data: unknown): void => {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
    for (const c of clients) {
      // a page that does not read is dropped rather than buffered without bound
      if (c.writableLength > 1024 * 1024) { c.destroy(); clients.delete(c); continue }
      c.write(text)
    }
  }
  const state = (): unknown => ({ title: init.title, processes, history, logs })

  let reading = false
  const tick = async (): Promise<void> => {
    if (reading) return
    reading = true
    try {
      const r = await source.read(maxLogs)
      processes = r.processes
      const sample: Sample = { t: Date.now(), bytes: {} }
      for (const p of processes) {
        sample.bytes[p.status.pid] = [p.status.tunnels.reduce((n, t) => n + t.sent, 0), p.status.tunnels.reduce((n, t) => n + t.received, 0)]
      }
      history.push(sample)
      if (history.length > maxSamples) history.splice(0, history.length - maxSamples)
      const fresh = r.logs.map(l => pageLog(l.pid, l.time, l.line))
      logs.push(...fresh)
      if (logs.length > maxLogs) logs.splice(0, logs.length - maxLogs)
      if (clients.size > 0) push('tick', { processes, sample, logs: fresh })
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'dashboard: reading the status failed')
    } finally {
      reading = false
    }
  }

  const respond = (res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': String(Buffer.byteLength(body)), ...extra })
    res.end(body)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1')
    const check = checkRequest(req.headers, url.searchParams, port, token)
    if ('status' in check) {
      log.debug({ path: url.pathname, reason: check.reason }, 'dashboard: request refused')
      respond(res, check.status, 'text/plain; charset=utf-8', `${check.status === 401 ? 'unauthorized' : 'forbidden'}: ${check.reason}\n`)
      return
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { respond(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { allow: 'GET, HEAD' }); return }
    if (check.viaQuery) {
      // the token moves into a cookie, and out of the address bar and the history
      url.searchParams.delete('token')
      respond(res, 303, 'text/plain; charset=utf-8', 'see other\n', {
        location: url.pathname + (url.search !== '' ? url.search : ''),
        'set-cookie': `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/_beam`
      })
      return
    }
    const path = url.pathname
    if (path === DASHBOARD_PATH || path === '/_beam') {
      respond(res, 200, FILES['index.html'] ?? '', files.get('index.html') ?? '')
      return
    }
    const file = path.startsWith(DASHBOARD_PATH) ? path.slice(DASHBOARD_PATH.length) : ''
    const type = Object.hasOwn(FILES, file) ? FILES[file] : undefined
    if (type != null && file !== 'index.html') { respond(res, 200, type, files.get(file) ?? ''); return }
    if (path === '/_beam/api/status') { respond(res, 200, 'application/json; charset=utf-8', JSON.stringify(state())); return }
    if (path === '/_beam/events') {
      if (clients.size >= maxClients) { respond(res, 503, 'text/plain; charset=utf-8', 'too many open dashboard pages\n'); return }
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': 'text/event-stream; charset=utf-8', connection: 'keep-alive' })
      res.write(`event: init\ndata: ${JSON.stringify(state())}\n\n`)
      clients.add(res)
      req.on('close', () => { clients.delete(res) })
      return
    }
    if (path === '/_beam/qr.svg') {
      const pid = Number(url.searchParams.get('pid'))
      const connect = processes.find(p => p.status.pid === pid)?.connect
      if (connect == null) { respond(res, 404, 'text/plain; charset=utf-8', 'no connect string for that process\n'); return }
      let svg = qrCache.get(connect)
      if (svg == null) {
        try {
          svg = renderQrSvg(encodeQr(connect, { level: 'M' }), { quiet: 2 })
        } catch {
          respond(res, 413, 'text/plain; charset=utf-8', 'the connect string is too long for a QR code\n')
          return
        }
        qrCache.clear()
        qrCache.set(connect, svg)
      }
      respond(res, 200, 'image/svg+xml; charset=utf-8', svg)
      return
    }
    respond(res, 404, 'text/plain; charset=utf-8', 'not found\n')
  }

  // The port is bound at start (its URL is printed), but node:http, ~13 MB
  // of an idle share's RSS (docs/performance.md, "Idle memory"), is loaded
  // when the first page connects: a plain TCP listener hands each socket to
  // an HTTP server made then.
  let http: Server | undefined
  const httpServer = (): Server => {
    if (http != null) return http
    http = process.getBuiltinModule('node:http').createServer((req, res) => {
      handle(req, res).catch(err => {
        log.debug({ err: (err as Error).message }, 'dashboard: request failed')
        if (!res.headersSent) respond(res, 500, 'text/plain; charset=utf-8', 'internal error\n')
        else res.destroy()
      })
    })
    // slow or idle clients do not hold sockets for long (the event stream is exempt: it writes every interval)
    http.headersTimeout = 10_000
    http.requestTimeout = 10_000
    http.maxHeadersCount = 64
    http.on('error', err => { log.warn({ err: err.message }, 'dashboard server error') })
    // node:http starts tracking connections (what enforces the timeouts
    // above, and what closeAllConnections closes) when its server emits
    // 'listening'; this one never listens itself
    http.emit('listening')
    return http
  }
  const server = createServer(socket => { httpServer().emit('connection', socket) })
  const wanted = init.port ?? 0
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EADDRINUSE') { reject(new ListenError(`the dashboard cannot listen on 127.0.0.1:${wanted}: ${err.code ?? err.message}`, err)); return }
      const inUse = new AddressInUseError('127.0.0.1', wanted, err)
      inUse.message = `the dashboard's port ${inUse.message}`
      reject(inUse)
    })
    server.listen(wanted, '127.0.0.1', () => { resolve() })
  })
  const address = server.address()
  port = address != null && typeof address === 'object' ? address.port : wanted
  server.on('error', err => { log.warn({ err: err.message }, 'dashboard server error') })
  await tick()
  const timer = setInterval(() => { void tick() }, interval)
  timer.unref()
  let closed = false
  return {
    url: `http://127.0.0.1:${port}${DASHBOARD_PATH}?token=${token}`,
    port,
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(timer)
      for (const c of clients) c.destroy()
      clients.clear()
      http?.closeAllConnections()
      http?.close()
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }
}
