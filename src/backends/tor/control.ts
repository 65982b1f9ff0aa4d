/**
 * A small client for Tor's control protocol (control-spec.txt): the commands
 * beam needs (PROTOCOLINFO, AUTHENTICATE, ADD_ONION, DEL_ONION, GETINFO,
 * SETEVENTS, ONION_CLIENT_AUTH_ADD) over one TCP connection to the control
 * port. Replies come in the order commands were sent; `650` lines are
 * asynchronous events. Onion services added here without `Flags=Detach` die
 * with this connection, so a crashed beam leaves no onion behind.
 */
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { BackendLogger as Logger } from '../backend.ts'
import { TorAuthError, TorCommandError, TorControlError } from './errors.ts'

/** One complete reply: its status and its lines (text after `NNN-`/`NNN `, data blocks appended). */
/** A control-port reply. */
export interface ControlReply {
  /** The three-digit status (250 = OK). */
  status: number
  /** The reply's lines, without status and separator. */
  lines: string[]
}

/** Options of {@link TorControl.connect}. */
export interface TorControlOptions {
  /** Control port host. @default '127.0.0.1' */
  host?: string
  /** Control port. @default 9051 */
  port?: number
  /** Password for HASHEDPASSWORD auth. @default unset (no auth or cookie auth, as PROTOCOLINFO offers) */
  password?: string
  /** How long to wait for the TCP connection and authentication, in ms. @default 10000 */
  timeout?: number
  /** Logger (a child is made). @default silent */
  log?: Logger
  /** Aborts connecting and authenticating. @default none */
  signal?: AbortSignal
}

/** What PROTOCOLINFO said. */
export interface ProtocolInfo {
  /** Authentication methods tor accepts (NULL, HASHEDPASSWORD, COOKIE, SAFECOOKIE). */
  methods: string[]
  /** Where tor keeps its control cookie, if it offers cookie auth. */
  cookieFile?: string
  /** Tor's version. */
  version?: string
}

/** Options of {@link TorControl.addOnion}. */
export interface AddOnionOptions {
  /** Port the onion service offers. */
  virtualPort: number
  /** Local target, `host:port` (beam's own listener). */
  target: string
  /** `ED25519-V3:<base64>` from an earlier ADD_ONION; @default unset (a new key) */
  privateKey?: string
  /** Base32 x25519 public keys of authorised clients (restricted discovery). @default [] */
  clientAuth?: string[]
}

interface Pending {
  resolve: (r: ControlReply) => void
  reject: (e: Error) => void
}

export interface TorControlEvents {
  /** An asynchronous event line (without the `650 `), e.g. `HS_DESC UPLOADED …`. */
  event: [string]
  close: []
}

/** Escape a string for a control-protocol QuotedString. */
function quote (s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"'
}

/** Parse `KEY=VALUE KEY="quoted value"` pairs. */
export function parseKeyValues (text: string): Map<string, string> {
  const out = new Map<string, string>()
  const re = /([A-Za-z0-9_]+)=("((?:[^"\\]|\\.)*)"|\S*)/g
  for (const m of text.matchAll(re)) {
    const key = m[1] ?? ''
    const value = m[3] != null ? m[3].replace(/\\(.)/g, '$1') : (m[2] ?? '')
    out.set(key, value)
  }
  return out
}

/**
 * A connection to Tor's control port (control-spec): authentication, onion
 * services (ADD_ONION/DEL_ONION), events and GETINFO. Ephemeral onions made
 * through it live as long as this connection.
 */
export class TorControl extends EventEmitter<TorControlEvents> {
  private readonly socket: net.Socket
  private readonly pending: Pending[] = []
  private buf = ''
  private current: ControlReply | undefined
  private inData = false
  private closed = false
  private readonly log: Logger | undefined

  private constructor (socket: net.Socket, log: Logger | undefined) {
    super()
    this.socket = socket
    this.log = log
    socket.setEncoding('utf8')
    socket.on('data', (s: string) => { this.onData(s) })
    socket.on('error', err => { this.log?.debug({ err: err.message }, 'control connection error') })
    socket.on('close', () => {
      this.closed = true
      for (const p of this.pending.splice(0)) p.reject(new TorControlError('the Tor control connection closed'))
      this.emit('close')
    })
  }

  /** Connect to the control port and authenticate (none, cookie or password, as Tor offers). */
  static async connect (options: TorControlOptions = {}): Promise<TorControl> {
    const host = options.host ?? '127.0.0.1'
    const port = options.port ?? 9051
    const log = options.log?.child({ component: 'tor-control' })
    const signal = AbortSignal.any([AbortSignal.timeout(options.timeout ?? 10_000), ...(options.signal != null ? [options.signal] : [])])
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      signal.throwIfAborted()
      const s = net.connect({ host, port })
      const onAbort = (): void => { s.destroy(); reject(new TorControlError(`Tor control port ${host}:${port}: no answer in time`)) }
      signal.addEventListener('abort', onAbort, { once: true })
      s.once('connect', () => { signal.removeEventListener('abort', onAbort); resolve(s) })
      s.once('error', err => {
        signal.removeEventListener('abort', onAbort)
        reject(new TorControlError(`cannot reach the Tor control port ${host}:${port} (${(err as NodeJS.ErrnoException).code ?? err.message}): is tor running with ControlPort ${port}?`, { cause: err }))
      })
    })
    const ctl = new TorControl(socket, log)
    try {
      const onAbort = (): void => { socket.destroy() }
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        await ctl.authenticate(options.password)
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
      if (signal.aborted) throw new TorControlError(`Tor control port ${host}:${port}: authentication timed out`)
    } catch (err) {
      ctl.close()
      throw err
    }
    log?.debug({ host, port }, 'authenticated to the Tor control port')
    return ctl
  }

  private onData (s: string): void {
    this.buf += s
    let i
    while ((i = this.buf.indexOf('\r\n')) >= 0) {
      const line = this.buf.slice(0, i)
      this.buf = this.buf.slice(i + 2)
      this.onLine(line)
    }
  }

  private onLine (line: string): void {
    if (this.inData) {
      if (line === '.') { this.inData = false; return }
      this.current?.lines.push(line.startsWith('..') ? line.slice(1) : line)
      return
    }
    const status = Number.parseInt(line.slice(0, 3), 10)
    const sep = line[3]
    const text = line.slice(4)
    if (!Number.isFinite(status)) return
    this.current ??= { status, lines: [] }
    this.current.lines.push(text)
    if (sep === '+') { this.inData = true; return }
    if (sep !== ' ') return
    const reply = this.current
    this.current = undefined
    if (reply.status >= 600 && reply.status < 700) {
      for (const l of reply.lines) this.emit('event', l)
      return
    }
    this.pending.shift()?.resolve(reply)
  }

  /** Send one command line; resolves with its reply (rejects on 5xx with TorCommandError). */
  async command (line: string): Promise<ControlReply> {
    if (this.closed) throw new TorControlError('the Tor control connection is closed')
    const reply = await new Promise<ControlReply>((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.socket.write(line + '\r\n')
    })
    if (reply.status >= 400) {
      const verb = line.split(' ')[0] ?? line
      throw new TorCommandError(`tor refused ${verb}: ${reply.status} ${reply.lines.join(' ')}`, reply.status)
    }
    return reply
  }

  /** PROTOCOLINFO: the authentication methods tor offers, its cookie file and version. */
  async protocolInfo (): Promise<ProtocolInfo> {
    const reply = await this.command('PROTOCOLINFO 1')
    const info: ProtocolInfo = { methods: [] }
    for (const l of reply.lines) {
      if (l.startsWith('AUTH ')) {
        const kv = parseKeyValues(l)
        info.methods = (kv.get('METHODS') ?? '').split(',').filter(m => m !== '')
        const cookie = kv.get('COOKIEFILE')
        if (cookie != null) info.cookieFile = cookie
      } else if (l.startsWith('VERSION ')) {
        const v = parseKeyValues(l).get('Tor')
        if (v != null) info.version = v
      }
    }
    return info
  }

  /** AUTHENTICATE with the best method Tor offers: NULL, SAFECOOKIE, COOKIE or HASHEDPASSWORD. */
  private async authenticate (password: string | undefined): Promise<void> {
    const info = await this.protocolInfo()
    const has = (m: string): boolean => info.methods.includes(m)
    const wrap = async (line: string, what: string): Promise<void> => {
      try {
        await this.command(line)
      } catch (err) {
        if (err instanceof TorCommandError) throw new TorAuthError(`Tor control port refused ${what} authentication: ${err.message.replace(/^tor refused AUTHENTICATE: /, '')}`)
        throw err
      }
    }
    if (password != null) {
      if (!has('HASHEDPASSWORD')) throw new TorAuthError(`a Tor control password was given but tor does not ask for one (it offers: ${info.methods.join(', ') || 'nothing'})`)
      await wrap(`AUTHENTICATE ${quote(password)}`, 'password')
      return
    }
    if (has('NULL')) { await wrap('AUTHENTICATE', 'no'); return }
    if ((has('SAFECOOKIE') || has('COOKIE')) && info.cookieFile != null) {
      let cookie: Buffer
      try {
        cookie = await readFile(info.cookieFile)
      } catch (err) {
        throw new TorAuthError(`cannot read Tor's control cookie ${info.cookieFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}): run as a user in tor's group, or give a control password`, { passwordHelps: true })
      }
      if (has('SAFECOOKIE')) await this.safeCookie(cookie)
      else await wrap(`AUTHENTICATE ${cookie.toString('hex')}`, 'cookie')
      return
    }
    if (has('HASHEDPASSWORD')) throw new TorAuthError('the Tor control port needs a password', { passwordHelps: true })
    throw new TorAuthError(`no usable Tor control authentication method (tor offers: ${info.methods.join(', ') || 'nothing'})`)
  }

  private async safeCookie (cookie: Buffer): Promise<void> {
    const clientNonce = randomBytes(32)
    const reply = await this.command(`AUTHCHALLENGE SAFECOOKIE ${clientNonce.toString('hex')}`)
    const kv = parseKeyValues(reply.lines.join(' '))
    const serverHash = Buffer.from(kv.get('SERVERHASH') ?? '', 'hex')
    const serverNonce = Buffer.from(kv.get('SERVERNONCE') ?? '', 'hex')
    const msg = Buffer.concat([cookie, clientNonce, serverNonce])
    const expect = createHmac('sha256', 'Tor safe cookie authentication server-to-controller hash').update(msg).digest()
    if (serverHash.length !== expect.length || !timingSafeEqual(serverHash, expect)) {
      throw new TorAuthError('the Tor control port failed the SAFECOOKIE check: it does not know the cookie (is it really tor?)')
    }
    const mine = createHmac('sha256', 'Tor safe cookie authentication controller-to-server hash').update(msg).digest('hex')
    try {
      await this.command(`AUTHENTICATE ${mine}`)
    } catch (err) {
      throw new TorAuthError(`Tor control port refused cookie authentication: ${(err as Error).message}`)
    }
  }

  /** GETINFO one key; resolves its value (multi-line values joined by '\n'). */
  async getInfo (key: string): Promise<string> {
    const reply = await this.command(`GETINFO ${key}`)
    const first = reply.lines[0] ?? ''
    const prefix = `${key}=`
    if (!first.startsWith(prefix)) return ''
    const rest = reply.lines.slice(0, -1)
    const value = first.slice(prefix.length)
    return rest.length > 1 ? [value, ...rest.slice(1)].join('\n').replace(/^\n/, '') : value
  }

  /** SETEVENTS: receive these asynchronous events (e.g. HS_DESC) as `event` emissions. */
  async setEvents (events: string[]): Promise<void> {
    await this.command(`SETEVENTS ${events.join(' ')}`)
  }

  /**
   * ADD_ONION: a v3 onion service mapping `virtualPort` to `target`, alive as
   * long as this control connection. Resolves the service id (56 base32
   * characters, no `.onion`) and, for a new key, the key to persist.
   */
  /**
   * ADD_ONION: an onion service for this connection's lifetime. Resolves its
   * service id (the address without `.onion`) and, for a new key, the key
   * (`ED25519-V3:…`) to save for a persistent address.
   */
  async addOnion (options: AddOnionOptions): Promise<{
    /** The onion address without `.onion`. */
    serviceId: string
    /** The new key, when one was generated (`ED25519-V3:<base64>`). */
    privateKey?: string
  }> {
    const key = options.privateKey ?? 'NEW:ED25519-V3'
    const auth = (options.clientAuth ?? []).map(k => ` ClientAuthV3=${k}`).join('')
    // DiscardPK: tor need not hand back a key beam already has; V3Auth: restricted discovery
    const flagList = [...(options.privateKey != null ? ['DiscardPK'] : []), ...((options.clientAuth ?? []).length > 0 ? ['V3Auth'] : [])]
    const flags = flagList.length > 0 ? ` Flags=${flagList.join(',')}` : ''
    const reply = await this.command(`ADD_ONION ${key}${flags} Port=${options.virtualPort},${options.target}${auth}`)
    const kv = parseKeyValues(reply.lines.join(' '))
    const serviceId = kv.get('ServiceID')
    if (serviceId == null) throw new TorCommandError('tor answered ADD_ONION without a ServiceID', reply.status)
    const pk = kv.get('PrivateKey')
    return pk != null ? { serviceId, privateKey: pk } : { serviceId }
  }

  /** DEL_ONION: remove an onion service this connection made. */
  async delOnion (serviceId: string): Promise<void> {
    await this.command(`DEL_ONION ${serviceId}`)
  }

  /** Let this Tor client reach an onion service that restricts discovery. `privateKey` is base64 x25519. */
  async addClientAuth (serviceId: string, privateKey: string): Promise<void> {
    await this.command(`ONION_CLIENT_AUTH_ADD ${serviceId} x25519:${privateKey}`)
  }

  /**
   * Resolve once one HSDir has the descriptor of `serviceId` (HS_DESC
   * UPLOADED). Needs `setEvents(['HS_DESC'])` first. Rejects on abort.
   */
  async waitForUpload (serviceId: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const onEvent = (line: string): void => {
        const parts = line.split(' ')
        if (parts[0] === 'HS_DESC' && parts[1] === 'UPLOADED' && parts[2] === serviceId) { done(); resolve() }
      }
      const onAbort = (): void => { done(); reject(signal.reason as Error) }
      const onClose = (): void => { done(); reject(new TorControlError('the Tor control connection closed while waiting for the onion descriptor upload')) }
      const done = (): void => {
        this.off('event', onEvent)
        this.off('close', onClose)
        signal.removeEventListener('abort', onAbort)
      }
      this.on('event', onEvent)
      this.on('close', onClose)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Whether the control connection has closed. */
  get isClosed (): boolean { return this.closed }

  /** Close the connection (onion services it added without Detach go with it). */
  close (): void {
    if (this.closed) return
    this.socket.end()
    this.socket.destroySoon()
  }
}
