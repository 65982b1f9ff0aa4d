/**
 * Listening on I2P: one SAM session (a destination) whose accepted streams
 * become inbound libp2p connections.
 */
import { TypedEventEmitter } from '@libp2p/interface'
import type { ComponentLogger, CreateListenerOptions, Listener, ListenerEvents, Logger } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { TRANSIENT_DESTINATION } from './destination.ts'
import { I2pAddressError } from './errors.ts'
import { loadOrCreateKeyFile } from './key-file.ts'
import { garlic32, garlic64, parseI2pMultiaddr } from './multiaddr.ts'
import { toSamConnection } from './sam-conn.ts'
import { SamSession } from './sam-session.ts'
import type { ResolvedI2pOptions } from './options.ts'

export interface I2pListenerInit extends CreateListenerOptions {
  options: ResolvedI2pOptions
  logger: ComponentLogger
}

/** Pause after a failed STREAM ACCEPT before the next one. */
const ACCEPT_RETRY_MS = 1000

export class I2pListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private readonly init: I2pListenerInit
  private readonly log: Logger
  private readonly shutdown = new AbortController()
  private session?: SamSession
  private closed = false

  constructor (init: I2pListenerInit) {
    super()
    this.init = init
    this.log = init.logger.forComponent('beam:i2p:listener')
  }

  async listen (ma: Multiaddr): Promise<void> {
    const target = parseI2pMultiaddr(ma)
    if (target.kind !== 'garlic64') throw new I2pAddressError('listen on /garlic64/<destination> (a .b32.i2p name holds no key)')
    const o = this.init.options
    const wait = { signal: this.shutdown.signal, timeoutMs: o.commandTimeoutMs }
    let destination = 'TRANSIENT'
    if (o.keyFile != null) {
      const key = await loadOrCreateKeyFile(o.keyFile, o.sam, wait)
      if (target.destination !== TRANSIENT_DESTINATION && target.destination !== key.destination) {
        throw new I2pAddressError(`the listen address is not the destination of key file ${o.keyFile}`)
      }
      destination = key.privateKey
    } else if (target.destination !== TRANSIENT_DESTINATION) {
      throw new I2pAddressError('listening on a given destination needs its key: set keyFile')
    }
    this.log('creating SAM session at %s:%d', o.sam.host, o.sam.port)
    o.log?.info({ sam: `${o.sam.host}:${o.sam.port}` }, 'creating an I2P session for the share (the router builds tunnels and publishes the destination: usually 5-30 s)…')
    const session = await SamSession.create({
      sam: o.sam,
      destination,
      tunnels: o.tunnels,
      readyTimeoutMs: o.sessionReadyTimeoutMs,
      commandTimeoutMs: o.commandTimeoutMs,
      signal: this.shutdown.signal
    })
    this.session = session
    this.log('listening on %s (session ready in %d ms)', session.b32, session.readyMs)
    o.log?.info({ b32: session.b32, ms: session.readyMs }, `I2P destination ${session.b32} ready in ${session.readyMs} ms`)
    session.onClose(() => {
      if (this.closed) return
      this.log.error('the I2P router dropped the session of %s', session.b32)
      this.safeDispatchEvent('error', { detail: new Error('the I2P router dropped the listening session') })
    })
    this.safeDispatchEvent('listening')
    void this.acceptLoop(session)
  }

  private async acceptLoop (session: SamSession): Promise<void> {
    const signal = this.shutdown.signal
    while (!signal.aborted && session.alive) {
      let stream
      try {
        stream = await session.accept({ signal })
      } catch (err) {
        if (signal.aborted || !session.alive) break
        this.log.error('STREAM ACCEPT failed - %e', err)
        await new Promise(resolve => setTimeout(resolve, ACCEPT_RETRY_MS))
        continue
      }
      const remoteAddr = garlic64(stream.remoteDestination ?? '')
      const maConn = toSamConnection({
        socket: stream.socket,
        leftover: stream.leftover,
        direction: 'inbound',
        remoteAddr,
        localAddr: garlic64(session.destination),
        closeTimeoutMs: this.init.options.closeTimeoutMs,
        log: this.init.logger.forComponent('beam:i2p:connection')
      })
      this.log('inbound I2P stream')
      this.init.upgrader.upgradeInbound(maConn, { signal })
        .catch((err: unknown) => {
          this.log.error('inbound upgrade failed - %e', err)
          maConn.abort(err instanceof Error ? err : new Error(String(err)))
        })
    }
    if (!signal.aborted) await this.close()
  }

  /**
   * The destination in full (`/garlic64/…`, ~530 bytes) and by name
   * (`/garlic32/<b32>`, 32 bytes). A connect string carries the short one:
   * the full one is over its per-address limit (MAX_MULTIADDR_BYTES).
   */
  getAddrs (): Multiaddr[] {
    return this.session != null ? [garlic64(this.session.destination), garlic32(this.session.b32)] : []
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.shutdown.abort()
    this.session?.close()
    this.safeDispatchEvent('close')
  }
}
