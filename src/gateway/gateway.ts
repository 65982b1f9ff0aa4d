import { EventEmitter } from 'node:events'
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http'
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { AddressInfo } from 'node:net'
import type { Duplex } from 'node:stream'
import type { PeerId, Stream } from '@libp2p/interface'
import { silentLogger } from '../peer/index.ts'
import type { AppSender, BeamNode, ConnectTunnel, Logger } from '../peer/index.ts'
import { streamToDuplex, hostPort, AddressInUseError, ListenError } from '../tunnel/index.ts'
import { GatewayConfigError } from './errors.ts'
import { forwardRequest, forwardUpgrade, plainAddress, writeHead } from './forward.ts'
import type { Visitor } from './forward.ts'
import { labelOfHost, nameProblem, peerIdOfLabel, shareLabel } from './label.ts'
import { NameStore } from './names.ts'
import { ShareLimits } from './limits.ts'
import { UpstreamPool } from './upstream.ts'
import { errorPage, pageStatus } from './pages.ts'
import type { PageKind } from './pages.ts'
import { CLAIM_CLOCK_SKEW, REGISTER_PROTOCOL, VISITOR_LATENCY_BUCKETS, VISITOR_REPORT_INTERVAL, claimBytes, readJsonLine, writeJsonLine } from './protocol.ts'
import type { RegisterRequest, RegisterResponse } from './protocol.ts'
import { authorized, emptyReport, pageOfError } from './online.ts'
import type { OnlineShare } from './online.ts'
import type { ListenAddress, GatewayOptions, GatewayRequestEvent, GatewayEvents } from './events.ts'
export type { ListenAddress, GatewayOptions, GatewayRequestEvent, GatewayEvents } from './events.ts'

/** Shares remembered as "offline" (not "unknown") after they leave, at most. */
const MAX_SEEN = 10_000

/** A name, domain or port the visitor's URL carries. */
function urlOf (proto: string, host: string, port: number): string {
  const dflt = proto === 'https' ? 443 : 80
  return `${proto}://${host}${port === dflt ? '' : `:${port}`}/`
}

/**
 * An HTTP gateway: serves web visitors under `*.<domain>` and carries each
 * request over beam to the share the host name names. Shares opt in by
 * registering over {@link REGISTER_PROTOCOL}; only registered shares are
 * served, by their peer id label or a short name they claimed.
 */
export class Gateway extends EventEmitter<GatewayEvents> {
  readonly domain: string
  private readonly node: BeamNode
  private readonly opts: GatewayOptions
  private readonly log: Logger
  private readonly online = new Map<string, OnlineShare>()
  /** The shares of {@link online} by their peer id label: a visitor's request finds its share without parsing the label. */
  private readonly byLabel = new Map<string, OnlineShare>()
  /** Shares that registered since start: their label gets an "offline" page, not "unknown", once they leave. */
  private readonly seen = new Set<string>()
  private readonly allow: Set<string> | undefined
  readonly names: NameStore
  /** The per-share limits. */
  readonly limits: ShareLimits
  private main: HttpServer | Http2SecureServer | undefined
  private redirect: HttpServer | undefined
  private reports: ReturnType<typeof setInterval> | undefined
  private closed = false

  constructor (options: GatewayOptions) {
    super()
    const domain = options.domain.toLowerCase().replace(/\.$/, '')
    if (!/^(?=.{3,200}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(domain)) {
      throw new GatewayConfigError(`'${options.domain}' is not a domain name (e.g. gw.example.org)`)
    }
    this.domain = domain
    this.node = options.node
    this.opts = options
    this.log = (options.logger ?? silentLogger()).child({ component: 'gateway' })
    this.names = options.names ?? new NameStore()
    this.limits = new ShareLimits(options.limits)
    this.allow = options.allow != null ? new Set(options.allow) : undefined
    this.on('request', ev => { this.countVisitor(ev) })
  }

  /** `https` with a certificate, else `http`. */
  get proto (): 'https' | 'http' { return this.opts.tls != null ? 'https' : 'http' }

  /** The main listener's address (after start). */
  get address (): ListenAddress {
    const a = this.main?.address() as AddressInfo | null | undefined
    return { host: a?.address ?? this.opts.listen.host, port: a?.port ?? this.opts.listen.port }
  }

  /** The plain HTTP listener's address, if there is one (after start). */
  get httpAddress (): ListenAddress | undefined {
    const a = this.redirect?.address() as AddressInfo | null | undefined
    return a != null ? { host: a.address, port: a.port } : undefined
  }

  /** The URL of a host name under the domain (`''`: the domain itself). */
  url (label: string): string {
    return urlOf(this.proto, label === '' ? this.domain : `${label}.${this.domain}`, this.opts.publicPort ?? this.address.port)
  }

  /** The URL a share gets, by its peer id label. */
  shareUrl (peerId: PeerId): string {
    return this.url(shareLabel(peerId))
  }

  /**
   * Whether `host` names a share that registered here (online now, or
   * since this gateway started, or holding a short name): the names a
   * certificate may be asked for. Nothing else gets one, so that visitors
   * cannot make the gateway ask its CA for arbitrary names.
   */
  servesHost (host: string): boolean {
    const r = this.route(host)
    return 'share' in r || ('page' in r && r.page === 'offline')
  }

  /** Shares online now. */
  get onlineShares (): number { return this.online.size }

  /** Shares that registered since start. */
  get seenShares (): number { return this.seen.size }

  /** Serve registrations and open the listeners. */
  async start (): Promise<void> {
    await this.names.load()
    await this.node.handle(REGISTER_PROTOCOL, async (stream, from) => { await this.onRegister(stream, from) })
    const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
      this.onRequest(req, res).catch(err => {
        this.log.error({ err }, 'gateway request handler failed')
        if (!res.headersSent) this.page(res, 'offline', '')
        else res.destroy()
      })
    }
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
      this.onUpgrade(req, socket, head).catch(err => {
        this.log.error({ err }, 'gateway upgrade handler failed')
        socket.destroy()
      })
    }
    const tls = this.opts.tls
    const main = tls != null
      ? process.getBuiltinModule('node:http2').createSecureServer({
        allowHTTP1: true,
        SNICallback: (servername, cb) => {
          tls.context(servername.toLowerCase()).then(ctx => { cb(ctx == null ? new Error(`no certificate for ${servername}`) : null, ctx) }, (err: Error) => { cb(err) })
        }
      }, onRequest)
      : process.getBuiltinModule('node:http').createServer(onRequest)
    main.on('upgrade', onUpgrade)
    this.main = main
    await listen(main, this.opts.listen)
    if (this.opts.httpListen != null) {
      const redirect = process.getBuiltinModule('node:http').createServer((req, res) => { this.onPlainHttp(req, res) })
      this.redirect = redirect
      await listen(redirect, this.opts.httpListen)
    }
    this.reports = setInterval(() => { this.sendReports() }, VISITOR_REPORT_INTERVAL)
    this.reports.unref()
    this.log.info({ domain: this.domain, listen: hostPort(this.address.host, this.address.port), proto: this.proto }, 'gateway listening')
  }

  /** Close the listeners and every share's tunnel. Idempotent. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.reports)
    await this.node.unhandle(REGISTER_PROTOCOL).catch(() => {})
    for (const s of this.online.values()) { s.upstream?.destroy(); s.stream.destroy() }
    await Promise.all([this.main, this.redirect].map(async server => {
      if (server == null) return
      const done = new Promise<void>(resolve => { server.close(() => { resolve() }) })
      // keep-alive visitors would hold close() open
      if ('closeAllConnections' in server) server.closeAllConnections()
      await done
    }))
  }

  /** The plain HTTP listener: a redirect to the same URL over HTTPS (or, without TLS, the gateway itself). */
  private onPlainHttp (req: IncomingMessage, res: ServerResponse): void {
    const challenge = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,128})$/.exec(req.url ?? '')
    if (challenge != null && this.opts.acmeChallenge != null) {
      const answer = this.opts.acmeChallenge(challenge[1] ?? '')
      if (answer != null) {
        writeHead(res, 200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(answer) })
        res.end(answer)
      } else {
        this.page(res, 'unknown-name', req.headers.host ?? '')
      }
      return
    }
    if (this.opts.tls == null) {
      void this.onRequest(req, res)
      return
    }
    const host = (req.headers.host ?? this.domain).replace(/:\d+$/, '')
    const label = labelOfHost(host, this.domain)
    if (label == null) { this.page(res, 'unknown-name', host); return }
    const port = this.opts.publicPort ?? this.address.port
    writeHead(res, 308, { location: `https://${host}${port === 443 ? '' : `:${port}`}${req.url ?? '/'}`, 'content-length': 0 })
    res.end()
  }

  // ------------------------------------------------------------ visitor reports

  /** Count a finished request in its share's next report (shares that asked for reports only). */
  private countVisitor (ev: GatewayRequestEvent): void {
    if (ev.share == null) return
    const r = this.online.get(ev.share)?.report
    if (r == null) return
    r.requests++
    const cls = Math.floor(ev.status / 100) - 1
    if (cls >= 0 && cls < 5) r.classes[cls] = (r.classes[cls] ?? 0) + 1
    let i = VISITOR_LATENCY_BUCKETS.findIndex(le => ev.ms <= le)
    if (i < 0) i = VISITOR_LATENCY_BUCKETS.length
    r.counts[i] = (r.counts[i] ?? 0) + 1
    r.sumMs += ev.ms
    r.maxMs = Math.max(r.maxMs, ev.ms)
    r.bytesIn += ev.bytesIn
    r.bytesOut += ev.bytesOut
  }

  /** One report line to each share with requests since its last one; a share that does not read gets its counts added up until it does. */
  private sendReports (): void {
    for (const share of this.online.values()) {
      const r = share.report
      if (r == null || r.requests === 0 || share.stream.writableNeedDrain || share.stream.destroyed) continue
      r.sumMs = Math.round(r.sumMs * 10) / 10
      writeJsonLine(share.stream, r)
      share.report = emptyReport()
    }
  }

  // ------------------------------------------------------------ registrations

  private async onRegister (stream: Duplex, from: AppSender): Promise<void> {
    const peer = from.peerId.toString()
    const log = this.log.child({ share: peer })
    // a reset (the share went away) is how a registration ends: seen through 'close'
    stream.on('error', () => {})
    let req: RegisterRequest
    try {
      const line = await readJsonLine(stream, AbortSignal.timeout(10_000))
      if (line == null || typeof line !== 'object' || (line as { v?: unknown }).v !== 1) throw new Error('not a version 1 registration')
      req = line as RegisterRequest
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'bad registration')
      this.answer(stream, { ok: false, code: 'bad-request', message: 'not a gateway registration this gateway understands' }, true)
      return
    }
    if (this.allow != null && !this.allow.has(peer)) {
      log.info('registration refused: the share is not on this gateway\'s allow-list')
      this.answer(stream, { ok: false, code: 'not-allowed', message: 'this gateway serves only the shares on its allow-list' }, true)
      return
    }
    let name: string | undefined
    if (req.name != null) {
      const problem = typeof req.name === 'string' ? nameProblem(req.name) : 'the name is not text'
      if (problem != null) { this.answer(stream, { ok: false, code: 'bad-name', message: problem }, true); return }
      name = req.name
      const signed = await this.checkClaim(from.peerId, name, req)
      if (signed != null) { this.answer(stream, { ok: false, code: 'bad-request', message: signed }, true); return }
      if (!await this.names.claim({ name, peerId: peer, at: req.at ?? 0, sig: req.sig ?? '' })) {
        log.info({ name }, 'name claim refused: taken by another share')
        this.answer(stream, { ok: false, code: 'name-taken', message: `the name '${name}' is taken on this gateway by another share` }, true)
        return
      }
    } else {
      await this.names.touch(peer)
      name = this.names.nameOf(peer)
    }
    const auth = req.auth != null && typeof req.auth === 'object' ? { ...(typeof req.auth.basic === 'string' ? { basic: req.auth.basic } : {}), ...(typeof req.auth.token === 'string' ? { token: req.auth.token } : {}) } : undefined
    // a second registration of the same share replaces the first
    const old = this.online.get(peer)
    const label = shareLabel(from.peerId)
    const share: OnlineShare = { peerId: from.peerId, peer, label, name, auth, stream, tunnel: old?.tunnel, upstream: old?.upstream, report: req.visitors === 1 ? emptyReport() : undefined }
    this.online.set(peer, share)
    this.byLabel.set(label, share)
    // bounded: a flood of throwaway identities registering costs at most MAX_SEEN entries (the oldest go first)
    this.seen.delete(peer)
    this.seen.add(peer)
    if (this.seen.size > MAX_SEEN) for (const old of this.seen) { if (this.seen.size <= MAX_SEEN) break; if (!this.online.has(old)) this.seen.delete(old) }
    if (old != null && old.stream !== stream) old.stream.destroy()
    this.answer(stream, { ok: true, url: this.url(label), label, ...(name != null ? { name, nameUrl: this.url(name), nameIdleDays: this.names.idle / 86_400_000 } : {}) }, false)
    log.info({ label, name }, 'share registered')
    this.emit('registered', { peerId: peer, label, ...(name != null ? { name } : {}) })
    await new Promise<void>(resolve => {
      stream.on('close', resolve)
      stream.on('error', () => { resolve() })
      stream.on('end', () => { stream.destroy(); resolve() })
      stream.resume()
    })
    if (this.online.get(peer) === share) {
      this.online.delete(peer)
      if (this.byLabel.get(label) === share) this.byLabel.delete(label)
      await this.names.touch(peer)
      const tunnel = share.tunnel
      share.tunnel = undefined
      share.upstream?.destroy()
      share.upstream = undefined
      void tunnel?.then(async t => { await t.close() }, () => {})
      log.info('share offline (its registration closed)')
      this.emit('unregistered', { peerId: peer })
    }
  }

  /** Why a name claim's signature does not hold, or undefined when it does. */
  private async checkClaim (peerId: PeerId, name: string, req: RegisterRequest): Promise<string | undefined> {
    if (typeof req.at !== 'number' || typeof req.sig !== 'string') return 'a name claim needs its time and signature'
    if (Math.abs(Date.now() - req.at) > CLAIM_CLOCK_SKEW) return 'the name claim\'s time is more than 5 minutes off the gateway\'s clock'
    const key = peerId.publicKey
    if (key == null) return 'the share\'s peer id carries no public key'
    const ok = await key.verify(claimBytes(this.node.peerId.toString(), name, req.at), Buffer.from(req.sig, 'base64'))
    return ok ? undefined : 'the name claim\'s signature does not match the share\'s key'
  }

  private answer (stream: Duplex, res: RegisterResponse, end: boolean): void {
    writeJsonLine(stream, res)
    if (end) stream.end()
  }

  // ------------------------------------------------------------ visitors

  /** The share a host names: its peer id text, or undefined (with the page to show). */
  private route (host: string): { share: OnlineShare } | { page: PageKind, peer?: string } | { home: true } {
    const label = labelOfHost(host, this.domain)
    if (label == null) return { page: 'unknown-name' }
    if (label === '') return { home: true }
    // a share online now, by its own label: the common case, a map look-up
    const online = this.byLabel.get(label)
    if (online != null) return { share: online }
    const byLabel = peerIdOfLabel(label)
    const peer = byLabel != null ? byLabel.toString() : this.names.owner(label)
    if (peer == null) return { page: 'unknown-name' }
    const share = this.online.get(peer)
    if (share != null) {
      // a label is the share's own; a name must still be the one it holds
      if (byLabel == null && share.name !== label && this.names.owner(label) !== peer) return { page: 'unknown-name' }
      return { share }
    }
    // a share that never registered here is unknown: its label says nothing more
    return this.seen.has(peer) || byLabel == null ? { page: 'offline', peer } : { page: 'unknown-name' }
  }

  private visitorOf (req: IncomingMessage | Http2ServerRequest, host: string): Visitor {
    return { address: plainAddress(req.socket?.remoteAddress ?? ''), host, proto: this.proto }
  }

  private hostOf (req: IncomingMessage | Http2ServerRequest): string {
    const h = (req.headers[':authority'] ?? req.headers.host) as string | undefined
    return (h ?? '').slice(0, 300)
  }

  private page (res: ServerResponse | Http2ServerResponse, kind: PageKind, host: string, extra: Record<string, string> = {}): void {
    const body = errorPage(kind, host)
    writeHead(res, pageStatus(kind), { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extra })
    res.end(body)
  }

  private async tunnelTo (share: OnlineShare): Promise<ConnectTunnel> {
    share.tunnel ??= this.node.connect(share.peerId.toString(), {
      bind: false,
      probe: false,
      handshakeTimeout: this.opts.handshakeTimeout ?? 10_000
    }).catch(err => { share.tunnel = undefined; throw err })
    return await share.tunnel
  }

  /** Open a tunnel stream to the share, as a Duplex; throws what the share answered. */
  private async openTunnel (share: OnlineShare, signal: AbortSignal): Promise<Duplex> {
    return streamToDuplex(await this.openStream(share, signal))
  }

  /** A tunnel stream to the share, its handshake done. */
  private async openStream (share: OnlineShare, signal: AbortSignal): Promise<Stream> {
    const tunnel = await this.tunnelTo(share)
    return await tunnel.openStream(false, signal)
  }

  private async onRequest (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): Promise<void> {
    const started = performance.now()
    const host = this.hostOf(req)
    const visitor = this.visitorOf(req, host)
    const base = { host, method: req.method ?? '', path: (req.url ?? '').slice(0, 2048), visitor: visitor.address, httpVersion: req.httpVersion }
    const done = (ev: Omit<GatewayRequestEvent, keyof typeof base | 'ms'>): void => {
      this.emit('request', { ...base, ...ev, ms: Math.round((performance.now() - started) * 10) / 10 })
    }
    const route = this.route(host)
    if ('home' in route) {
      const body = `beam gateway for ${this.domain}: shares are served at <label>.${this.domain}\n`
      writeHead(res, 200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) })
      res.end(body)
      done({ status: 200, kind: 'share', bytesIn: 0, bytesOut: 0 })
      return
    }
    if ('page' in route) {
      this.page(res, route.page, host)
      done({ ...(route.peer != null ? { share: route.peer } : {}), status: pageStatus(route.page), kind: route.page, bytesIn: 0, bytesOut: 0 })
      return
    }
    const share = route.share
    const peer = share.peer
    if (!authorized(share.auth, req.headers.authorization)) {
      this.page(res, 'unauthorized', host, share.auth?.basic != null ? { 'www-authenticate': 'Basic realm="beam share", charset="UTF-8"' } : { 'www-authenticate': 'Bearer' })
      done({ share: peer, status: 401, kind: 'unauthorized', bytesIn: 0, bytesOut: 0 })
      return
    }
    const slot = this.limits.admit(peer)
    if ('refused' in slot) {
      this.page(res, 'limit', host, { 'retry-after': '1' })
      done({ share: peer, status: pageStatus('limit'), kind: 'limit', bytesIn: 0, bytesOut: 0 })
      return
    }
    try {
      share.upstream ??= new UpstreamPool(async () => await this.openStream(share, AbortSignal.timeout(this.opts.handshakeTimeout ?? 10_000)), this.limits.maxVisitors > 0 ? { maxFree: this.limits.maxVisitors } : {})
      let kind: 'share' | PageKind = 'share'
      const result = await forwardRequest(req, res, share.upstream, visitor, err => {
        const page = this.online.get(peer) === share ? pageOfError(err) : 'offline'
        kind = page
        this.log.info({ share: peer, kind: page, err: err.message }, 'no answer from the share for a visitor')
        this.page(res, page, host)
      }, () => this.limits.throttle(peer))
      done({ share: peer, status: kind === 'share' ? result.status : pageStatus(kind), kind, bytesIn: result.bytesIn, bytesOut: result.bytesOut })
    } finally {
      slot.release()
    }
  }

  private async onUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const started = performance.now()
    const host = this.hostOf(req)
    const visitor = this.visitorOf(req, host)
    const refuse = (kind: PageKind, share?: string): void => {
      const body = errorPage(kind, host)
      socket.end(`HTTP/1.1 ${pageStatus(kind)} Gateway\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
      this.emit('request', { host, ...(share != null ? { share } : {}), method: req.method ?? '', path: req.url ?? '', visitor: visitor.address, httpVersion: req.httpVersion, status: pageStatus(kind), kind, bytesIn: 0, bytesOut: 0, ms: Math.round(performance.now() - started) })
    }
    const route = this.route(host)
    if ('home' in route) { refuse('unknown-name'); return }
    if ('page' in route) { refuse(route.page, route.peer); return }
    const share = route.share
    const peer = share.peer
    if (!authorized(share.auth, req.headers.authorization)) { refuse('unauthorized', peer); return }
    const slot = this.limits.admit(peer)
    if ('refused' in slot) { refuse('limit', peer); return }
    let tunnel: Duplex
    try {
      tunnel = await this.openTunnel(share, AbortSignal.timeout(this.opts.handshakeTimeout ?? 10_000))
    } catch (err) {
      slot.release()
      refuse(this.online.get(peer) === share ? pageOfError(err) : 'offline', peer)
      return
    }
    const { bytesIn, bytesOut } = await forwardUpgrade(req, socket, head, tunnel, visitor, () => this.limits.throttle(peer)).finally(() => { slot.release() })
    this.emit('request', { host, share: peer, method: req.method ?? '', path: req.url ?? '', visitor: visitor.address, httpVersion: req.httpVersion, status: 101, kind: 'share', bytesIn, bytesOut, ms: Math.round(performance.now() - started) })
  }
}

async function listen (server: HttpServer | Http2SecureServer, at: ListenAddress): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE') reject(new AddressInUseError(at.host, at.port, err))
      else if (err.code === 'EACCES') reject(new ListenError(`no permission to listen on ${hostPort(at.host, at.port)} (ports below 1024 need CAP_NET_BIND_SERVICE)`, err))
      else reject(new ListenError(`cannot listen on ${hostPort(at.host, at.port)}: ${err.message}`, err))
    }
    server.once('error', onError)
    server.listen(at.port, at.host, () => { server.off('error', onError); resolve() })
  })
}
