/**
 * The Tor backend: shares become v3 onion services (through the control
 * port), connectors dial them through the SOCKS port. See docs/backends.md (Tor).
 */
import type { Backend, BackendAvailability, BackendContext, TransportFactory } from '../backend.ts'
import { TorControl } from './control.ts'
import { TorAuthError, TorControlError, TorConfigError } from './errors.ts'
import { findTor, launchTor, TOR_CANDIDATES } from './launch.ts'
import type { LaunchedTor } from './launch.ts'
import { ONION_LISTEN_PROTOCOL, torTransport } from './transport.ts'
import type { TorTransportInit } from './transport.ts'

export { TorControl, parseKeyValues } from './control.ts'
export type { AddOnionOptions, ControlReply, ProtocolInfo, TorControlOptions } from './control.ts'
export { SocksError, TorAuthError, TorCommandError, TorConfigError, TorControlError, TorLaunchError } from './errors.ts'
export { socksConnect, socksReplyMessage } from './socks.ts'
export type { SocksConnectOptions } from './socks.ts'
export { ONION_LISTEN_PROTOCOL, parseOnion3, torTransport } from './transport.ts'
export type { TorTransportInit } from './transport.ts'
export { findTor, launchTor, TOR_CANDIDATES } from './launch.ts'
export { generateClientAuthKeys, parseClientAuthPrivateKey, parseClientAuthPublicKey } from './client-auth.ts'
export type { ClientAuthKeys } from './client-auth.ts'
export type { LaunchedTor, LaunchOptions } from './launch.ts'

/** Default virtual port of a share's onion service. */
export const DEFAULT_ONION_PORT = 4001

/** How `--tor-launch` starts a tor of beam's own (`TorBackendOptions.launch`). */
export interface TorLaunchConfig {
  /** Folder for the launched tor's data (e.g. `$BEAM_HOME/tor`). */
  dataDir: string
  /** Extra torrc lines (a private test network's DirAuthority lines, bridges, …). @default '' */
  extraTorrc?: string
  /** tor exits when this pid does (pass the CLI's own pid). @default unset */
  ownerPid?: number
  /** How long to wait for the launched tor to bootstrap, in ms. @default 120000 */
  timeout?: number
}

/** Options of {@link torBackend}: where Tor's control and SOCKS ports are, the onion key and port, client authorization, or a tor to launch. */
export interface TorBackendOptions extends Omit<TorTransportInit, 'log'> {
  /** Start a tor of beam's own instead of using a running daemon. @default unset (use the daemon at controlHost:controlPort / socksHost:socksPort) */
  launch?: TorLaunchConfig
  /** Onion port of a share (the port in `/onion3/<id>:<port>`). @default 4001 */
  virtualPort?: number
  /** Where to look for the tor binary. @default TOR_CANDIDATES */
  torBinaries?: string[]
}

/** A Tor backend object with its options; hand it to `createBeam({ backends })`. */
export function torBackend (options: TorBackendOptions = {}): Backend {
  const virtualPort = options.virtualPort ?? DEFAULT_ONION_PORT
  if (!Number.isInteger(virtualPort) || virtualPort < 1 || virtualPort > 65535) throw new TorConfigError(`onion port ${virtualPort} is not 1-65535`)
  let launched: LaunchedTor | undefined
  const controlHost = options.controlHost ?? '127.0.0.1'
  const controlPort = options.controlPort ?? 9051
  return {
    name: 'tor',
    description: 'Tor onion services (v3): share through the control port, connect through SOCKS5',
    role: 'both',
    addressProtocols: ['onion3'],
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    available: async (opts = {}): Promise<BackendAvailability> => {
      const bin = await findTor(options.torBinaries ?? TOR_CANDIDATES)
      if (options.launch != null) {
        return bin != null ? { status: 'ready', reason: `beam starts its own tor (${bin})` } : { status: 'not-installed', reason: 'no tor binary found (install tor: apt install tor)' }
      }
      try {
        const ctl = await TorControl.connect({
          host: controlHost,
          port: controlPort,
          timeout: 3000,
          ...(options.controlPassword != null ? { password: options.controlPassword } : {}),
          ...(opts.signal != null ? { signal: opts.signal } : {})
        })
        const version = await ctl.getInfo('version').catch(() => '?')
        ctl.close()
        return { status: 'ready', reason: `tor ${version.split(' ')[0] ?? version} at control port ${controlHost}:${controlPort}` }
      } catch (err) {
        if (err instanceof TorAuthError) return { status: 'not-running', reason: `control port ${controlHost}:${controlPort} answers but refuses beam: ${err.message}` }
        if (err instanceof TorControlError && bin == null) return { status: 'not-installed', reason: `no tor binary found and no control port at ${controlHost}:${controlPort}` }
        const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code
        const why = code === 'ECONNREFUSED' ? 'connection refused' : code ?? (err as Error).message
        return { status: 'not-running', reason: `no Tor control port at ${controlHost}:${controlPort} (${why}): start tor with ControlPort ${controlPort}, or use --tor-launch` }
      }
    },
    start: async (context: BackendContext): Promise<void> => {
      if (options.launch == null || launched != null) return
      const bin = await findTor(options.torBinaries ?? TOR_CANDIDATES)
      launched = await launchTor({
        dataDir: options.launch.dataDir,
        ...(bin != null ? { torBinary: bin } : {}),
        ...(options.launch.extraTorrc != null ? { extraTorrc: options.launch.extraTorrc } : {}),
        ...(options.launch.ownerPid != null ? { ownerPid: options.launch.ownerPid } : {}),
        ...(options.launch.timeout != null ? { timeout: options.launch.timeout } : {}),
        log: context.log,
        ...(context.signal != null ? { signal: context.signal } : {})
      })
    },
    stop: async (): Promise<void> => {
      const l = launched
      launched = undefined
      await l?.stop()
    },
    transport: (context: BackendContext): TransportFactory => {
      // read the launched tor's ports lazily: start() runs before libp2p is built
      const ports = launched != null
        ? { socksHost: '127.0.0.1', socksPort: launched.socksPort, controlHost: '127.0.0.1', controlPort: launched.controlPort }
        : {}
      const { launch: _launch, virtualPort: _vp, torBinaries: _tb, ...init } = options
      return torTransport({ ...init, ...ports, log: context.log })
    },
    listenAddrs: () => [`/${ONION_LISTEN_PROTOCOL}/${virtualPort}`]
  }
}
