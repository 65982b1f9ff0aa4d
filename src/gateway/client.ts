import { EventEmitter } from 'node:events'
import { createHash } from 'node:crypto'
import type { Duplex } from 'node:stream'
import { LineSplitter, silentLogger, validBatch } from '../peer/index.ts'
import type { BeamNode, Logger, Target, VisitorBatch } from '../peer/index.ts'
import { GatewayNameTakenError, GatewayRefusedError, InvalidGatewayNameError } from './errors.ts'
import { nameProblem } from './label.ts'
import { MAX_REGISTER_LINE, REGISTER_PROTOCOL, claimBytes, readJsonLine, writeJsonLine } from './protocol.ts'
import type { RegisterRequest, RegisterResponse, VisitorAuthDigest } from './protocol.ts'

/** How visitors must authenticate at the gateway before it opens a tunnel for them. */
export interface VisitorAuth {
  /** HTTP basic credentials, `user:password`. @default unset */
  basic?: string | undefined
  /** A bearer token (`Authorization: Bearer <token>`). @default unset */
  token?: string | undefined
}

/** Options of {@link GatewayRegistration}. */
export interface GatewayRegistrationOptions {
  /** The share's node (its share started with the gateway's peer id in `gateways`). */
  node: BeamNode
  /** The gateway: its peer id and addresses. */
  gateway: Target
  /** A short name to claim on the gateway. @default unset (only the peer id label) */
  name?: string | undefined
  /** Visitor authentication the gateway is to require. @default unset (anyone with the URL) */
  auth?: VisitorAuth | undefined
  /** How long a registration attempt may take, in ms. @default 15000 */
  timeout?: number | undefined
  /** Wait after a lost registration before the first retry, in ms; doubles up to 30 s. @default 1000 */
  retryDelay?: number | undefined
  /** The share's logger (component `gateway-client` is added). @default silent */
  logger?: Logger | undefined
}

/** What the gateway granted. */
export interface GatewayGrant {
  /** The share's URL by its peer id label. */
  url: string
  /** The label. */
  label: string
  /** The claimed short name and its URL, when one was asked for. */
  name?: string
  nameUrl?: string
  /** Days a name stays bound after the share was last online. */
  nameIdleDays?: number
}

/** Events of a {@link GatewayRegistration}. */
export interface GatewayRegistrationEvents {
  /** Registered (again, after a lost registration). */
  registered: [GatewayGrant]
  /** The registration was lost; it is retried with backoff. */
  lost: [{ error: string }]
  /** The gateway reported visitor requests (about once a second while there are any). */
  visitors: [VisitorBatch]
}

const sha256hex = (s: string): string => createHash('sha256').update(s).digest('hex')

/**
 * A share's registration with a gateway: the share opts in, claims a name,
 * and stays registered (and so online for visitors) while the stream is
 * open. A lost registration is made again with backoff until {@link close}.
 */
export class GatewayRegistration extends EventEmitter<GatewayRegistrationEvents> {
  private readonly opts: GatewayRegistrationOptions
  private readonly log: Logger
  private readonly shutdown = new AbortController()
  private stream: Duplex | undefined
  /** The last grant. */
  grant: GatewayGrant | undefined

  constructor (options: GatewayRegistrationOptions) {
    super()
    if (options.name != null) {
      const problem = nameProblem(options.name)
      if (problem != null) throw new InvalidGatewayNameError(problem)
    }
    this.opts = options
    this.log = (options.logger ?? silentLogger()).child({ component: 'gateway-client', gateway: options.gateway.peerId.toString() })
  }

  /** Register once; throws when the gateway cannot be reached or refuses. Later losses are retried in the background. */
  async start (signal?: AbortSignal): Promise<GatewayGrant> {
    const grant = await this.register(signal)
    return grant
  }

  /** Leave the gateway (the share is offline there at once). Idempotent. */
  close (): void {
    this.shutdown.abort()
    this.stream?.destroy()
  }

  private async register (signal?: AbortSignal): Promise<GatewayGrant> {
    const { node, gateway, name, auth } = this.opts
    const timeout = AbortSignal.any([AbortSignal.timeout(this.opts.timeout ?? 15_000), this.shutdown.signal, ...(signal != null ? [signal] : [])])
    const req: RegisterRequest = { v: 1, visitors: 1 }
    if (name != null) {
      const at = Date.now()
      req.name = name
      req.at = at
      req.sig = Buffer.from(await node.sign(claimBytes(gateway.peerId.toString(), name, at))).toString('base64')
    }
    const digest: VisitorAuthDigest = {}
    if (auth?.basic != null) digest.basic = sha256hex(auth.basic)
    if (auth?.token != null) digest.token = sha256hex(auth.token)
    if (digest.basic != null || digest.token != null) req.auth = digest
    const stream = await node.open(gateway, REGISTER_PROTOCOL, { signal: timeout })
    stream.on('error', () => {})
    let res: RegisterResponse
    try {
      writeJsonLine(stream, req)
      res = await readJsonLine(stream, timeout) as RegisterResponse
    } catch (err) {
      stream.destroy()
      throw err
    }
    if (res == null || typeof res !== 'object' || typeof res.ok !== 'boolean') { stream.destroy(); throw new GatewayRefusedError('the gateway sent an answer this version does not understand') }
    if (!res.ok) {
      stream.destroy()
      if (res.code === 'name-taken') throw new GatewayNameTakenError(name ?? '', String(res.message))
      if (res.code === 'bad-name') throw new InvalidGatewayNameError(String(res.message))
      throw new GatewayRefusedError(`the gateway refused the registration: ${String(res.message)}`)
    }
    const grant: GatewayGrant = { url: res.url, label: res.label, ...(res.name != null ? { name: res.name } : {}), ...(res.nameUrl != null ? { nameUrl: res.nameUrl } : {}), ...(res.nameIdleDays != null ? { nameIdleDays: res.nameIdleDays } : {}) }
    this.grant = grant
    this.stream = stream
    this.readReports(stream)
    const onGone = (): void => {
      stream.off('close', onGone)
      stream.off('end', onGone)
      stream.destroy()
      if (this.shutdown.signal.aborted) return
      this.log.warn('registration with the gateway lost; registering again')
      this.emit('lost', { error: 'the registration stream closed' })
      void this.retry()
    }
    stream.on('close', onGone)
    stream.on('end', onGone)
    this.log.info({ url: grant.url, name: grant.name }, 'registered with the gateway')
    this.emit('registered', grant)
    return grant
  }

  /** The gateway's lines after its answer: visitor reports; lines of other kinds or versions are skipped. */
  private readReports (stream: Duplex): void {
    let lines = new LineSplitter(MAX_REGISTER_LINE)
    stream.on('data', (chunk: Buffer) => {
      let got: string[]
      try {
        got = lines.push(chunk.toString('latin1'))
      } catch {
        // a line past the limit: skip what came so far
        lines = new LineSplitter(MAX_REGISTER_LINE)
        return
      }
      for (const line of got) {
        let msg: unknown
        try { msg = JSON.parse(line) } catch { continue }
        const m = msg as { t?: unknown, v?: unknown }
        if (m == null || typeof m !== 'object' || m.t !== 'visitors' || m.v !== 1 || !validBatch(msg)) continue
        const { requests, classes, le, counts, sumMs, maxMs, bytesIn, bytesOut } = msg
        this.emit('visitors', { requests, classes, le, counts, sumMs, maxMs, bytesIn, bytesOut })
      }
    })
    // reading the answer paused the stream: a data listener alone does not resume it
    stream.resume()
  }

  private async retry (): Promise<void> {
    let delay = this.opts.retryDelay ?? 1000
    // bounded by close(): every wait ends with the shutdown signal
    while (!this.shutdown.signal.aborted) {
      await new Promise<void>(resolve => {
        const t = setTimeout(resolve, delay)
        this.shutdown.signal.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true })
      })
      if (this.shutdown.signal.aborted) return
      try {
        await this.register()
        return
      } catch (err) {
        this.log.warn({ err: (err as Error).message, retryInMs: Math.min(delay * 2, 30_000) }, 'gateway registration failed')
        delay = Math.min(delay * 2, 30_000)
      }
    }
  }
}
