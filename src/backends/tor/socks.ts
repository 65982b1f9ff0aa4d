/**
 * A SOCKS5 client (RFC 1928, username/password auth of RFC 1929) for Tor's
 * SocksPort. Names are always sent to the proxy as a domain (ATYP 3): beam
 * never resolves anything itself, so no DNS query leaves the machine. A
 * username/password pair asks Tor for stream isolation (IsolateSOCKSAuth,
 * on by default): different credentials never share a circuit.
 */
import net from 'node:net'
import { SocksError } from './errors.ts'

export interface SocksConnectOptions {
  /** SOCKS proxy host. @default '127.0.0.1' */
  proxyHost?: string
  /** SOCKS proxy port. @default 9050 */
  proxyPort?: number
  /** Destination host, sent as a name (e.g. `<56 chars>.onion`). */
  host: string
  /** Destination port. */
  port: number
  /** Credentials for stream isolation. @default unset (no auth) */
  username?: string
  /** @default unset */
  password?: string
  signal?: AbortSignal
}

/** What SOCKS reply codes mean, Tor's extended codes (SocksPort ExtendedErrors) included. */
const REPLIES: Record<number, string> = {
  0x01: 'general SOCKS server failure',
  0x02: 'connection not allowed by the proxy',
  0x03: 'network unreachable',
  0x04: 'host unreachable (the onion service is not reachable yet, or gone)',
  0x05: 'connection refused',
  0x06: 'TTL expired (tor timed out reaching the destination)',
  0x07: 'command not supported',
  0x08: 'address type not supported',
  0xf0: 'onion service descriptor not found (not published yet, or the service is gone)',
  0xf1: 'onion service descriptor is invalid',
  0xf2: 'onion service introduction failed',
  0xf3: 'onion service rendezvous failed',
  0xf4: 'onion service needs client authorization (restricted discovery)',
  0xf5: 'onion service client authorization is wrong',
  0xf6: 'invalid onion address',
  0xf7: 'onion service introduction timed out'
}

export function socksReplyMessage (code: number): string {
  return REPLIES[code] ?? `SOCKS reply 0x${code.toString(16)}`
}

/** Reply codes after which a retry may help (descriptor not there yet, intro/rendezvous hiccups, timeouts). */
export function socksRetryable (code: number): boolean {
  return [0x01, 0x04, 0x06, 0xf0, 0xf2, 0xf3, 0xf7].includes(code)
}

/** A reader that hands out exactly n bytes from a socket during the handshake. */
class HandshakeReader {
  private buf = Buffer.alloc(0)
  private want: { n: number, resolve: (b: Buffer) => void } | undefined
  private failure: Error | undefined
  private readonly failures: Array<(e: Error) => void> = []

  constructor (socket: net.Socket) {
    socket.on('data', this.onData)
  }

  readonly onData = (d: Buffer): void => {
    this.buf = Buffer.concat([this.buf, d])
    this.pump()
  }

  error (err: Error): void {
    if (this.failure != null) return
    this.failure = err
    for (const f of this.failures.splice(0)) f(err)
  }

  onFail (f: (e: Error) => void): void {
    if (this.failure != null) f(this.failure)
    else this.failures.push(f)
  }

  private pump (): void {
    if (this.want != null && this.buf.length >= this.want.n) {
      const out = this.buf.subarray(0, this.want.n)
      this.buf = this.buf.subarray(this.want.n)
      const w = this.want
      this.want = undefined
      w.resolve(out)
    }
  }

  async read (n: number): Promise<Buffer> {
    if (this.failure != null) throw this.failure
    return await new Promise<Buffer>((resolve, reject) => {
      this.want = { n, resolve }
      this.onFail(reject)
      this.pump()
    })
  }

  /** Bytes that arrived after the handshake (none with Tor, but do not lose them). */
  rest (): Buffer { return this.buf }
}

/**
 * Open a TCP stream to host:port through the SOCKS5 proxy. Resolves the
 * connected socket, paused (the handshake is done; it carries the
 * application's bytes from now on: attach a reader, then `resume()`).
 * Rejects with SocksError.
 */
export async function socksConnect (options: SocksConnectOptions): Promise<net.Socket> {
  const proxyHost = options.proxyHost ?? '127.0.0.1'
  const proxyPort = options.proxyPort ?? 9050
  const host = Buffer.from(options.host, 'utf8')
  if (host.length === 0 || host.length > 255) throw new SocksError(`SOCKS: bad destination name '${options.host}'`, -1)
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) throw new SocksError(`SOCKS: bad destination port ${options.port}`, -1)
  options.signal?.throwIfAborted()
  const socket = net.connect({ host: proxyHost, port: proxyPort })
  socket.setNoDelay(true)
  const reader = new HandshakeReader(socket)
  const onError = (err: Error): void => {
    const code = (err as NodeJS.ErrnoException).code
    reader.error(new SocksError(`cannot reach Tor's SOCKS port ${proxyHost}:${proxyPort} (${code ?? err.message}): is tor running with SocksPort ${proxyPort}?`, -1))
  }
  const onClose = (): void => { reader.error(new SocksError(`Tor's SOCKS port ${proxyHost}:${proxyPort} closed the connection during the handshake`, -1)) }
  const onAbort = (): void => { reader.error(options.signal?.reason instanceof Error ? options.signal.reason : new SocksError('SOCKS connect aborted', -1)); socket.destroy() }
  socket.on('error', onError)
  socket.on('close', onClose)
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve)
      reader.onFail(reject)
    })
    const useAuth = options.username != null
    socket.write(Buffer.from(useAuth ? [0x05, 0x01, 0x02] : [0x05, 0x01, 0x00]))
    const method = await reader.read(2)
    if (method[0] !== 0x05) throw new SocksError(`${proxyHost}:${proxyPort} does not speak SOCKS5`, -1)
    if (method[1] === 0xff) throw new SocksError(`Tor's SOCKS port refused ${useAuth ? 'username/password' : 'unauthenticated'} access`, -1)
    if (method[1] === 0x02) {
      const user = Buffer.from(options.username ?? '', 'utf8').subarray(0, 255)
      const pass = Buffer.from(options.password ?? 'x', 'utf8').subarray(0, 255)
      socket.write(Buffer.concat([Buffer.from([0x01, user.length]), user, Buffer.from([pass.length]), pass]))
      const auth = await reader.read(2)
      if (auth[1] !== 0x00) throw new SocksError('the SOCKS proxy refused the stream-isolation credentials', -1)
    } else if (method[1] !== 0x00) {
      throw new SocksError(`the SOCKS proxy chose an unsupported auth method 0x${(method[1] ?? 0).toString(16)}`, -1)
    }
    const port = Buffer.alloc(2)
    port.writeUInt16BE(options.port)
    socket.write(Buffer.concat([Buffer.from([0x05, 0x01, 0x00, 0x03, host.length]), host, port]))
    const head = await reader.read(4)
    const rep = head[1] ?? 0x01
    if (rep !== 0x00) throw new SocksError(`Tor could not connect to ${options.host}:${options.port}: ${socksReplyMessage(rep)}`, rep)
    const atyp = head[3]
    const addrLen = atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : (await reader.read(1))[0] ?? 0
    await reader.read(addrLen + 2)
    // paused: the caller attaches its reader, then resumes
    socket.pause()
    socket.off('data', reader.onData)
    const rest = reader.rest()
    if (rest.length > 0) socket.unshift(rest)
    return socket
  } catch (err) {
    socket.destroy()
    throw err
  } finally {
    socket.off('error', onError)
    socket.off('close', onClose)
    options.signal?.removeEventListener('abort', onAbort)
  }
}
