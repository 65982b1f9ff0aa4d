/**
 * The Tor backend: shares become v3 onion services (through the control
 * port), connectors dial them through the SOCKS port. See docs/backends.md (Tor).
 */
import type { Backend, BackendAvailability, BackendContext, TransportFactory } from '../backend.ts'
import { TorControl } from './control.ts'
import { TorAuthError, TorControlError, TorConfigError, TorLaunchError } from './errors.ts'
import { findTor, launchTor, TOR_CANDIDATES } from './launch.ts'
import type { LaunchedTor } from './launch.ts'
import { torTransport } from './transport.ts'
import type { TorTransportInit } from './transport.ts'
import { describeOnionAddress, TOR_PROFILE } from './onion-address.ts'
import type { OnionNetworkProfile } from './onion-address.ts'

export { TorControl, parseKeyValues } from './control.ts'
export type { AddOnionOptions, ControlReply, ProtocolInfo, TorControlOptions } from './control.ts'
export { SocksError, TorAuthError, TorCommandError, TorConfigError, TorControlError, TorLaunchError } from './errors.ts'
export { socksConnect, socksReplyMessage } from './socks.ts'
export type { SocksConnectOptions } from './socks.ts'
export { torTransport } from './transport.ts'
export type { TorTransportInit } from './transport.ts'
export { describeOnionAddress, ONION_LISTEN_PROTOCOL, TOR_PROFILE, parseOnion3, parseOnionAddress, registerTextProtocol, validateListenPort, validateOnionValue } from './onion-address.ts'
export type { OnionNetworkProfile } from './onion-address.ts'
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

/**
 * What a Tor-protocol network (Tor itself, or a fork such as ATOR's anon)
 * changes in {@link onionBackend}: names, protocols, where its binary is, how
 * it must be launched, and what to tell a user who lacks it.
 */
export interface OnionBackendSpec {
  /** Backend name, e.g. 'tor'. */
  name: string
  description: string
  /** Protocols, SOCKS suffix and labels of the network. */
  profile: OnionNetworkProfile
  /** Program name in messages, e.g. 'tor' or 'anon'. */
  program: string
  /** Where to look for the binary when the options give none. */
  binaries: string[]
  /** Shown when no binary is found, e.g. 'install tor: apt install tor'. */
  installHint: string
  /** torrc lines the binary needs (ATOR: `AgreeToTerms 1`). @default [] */
  requiredTorrc?: string[]
  /** Whether the binary takes `--defaults-torrc` (anon aborts on it). @default true */
  defaultsTorrc?: boolean
}

/** The Tor network's spec. */
const TOR_SPEC: OnionBackendSpec = {
  name: 'tor',
  description: 'Tor onion services (v3): share through the control port, connect through SOCKS5',
  profile: TOR_PROFILE,
  program: 'tor',
  binaries: TOR_CANDIDATES,
  installHint: 'install tor: apt install tor'
}

/** A Tor backend object with its options; hand it to `createBeam({ backends })`. */
export function torBackend (options: TorBackendOptions = {}): Backend {
  return onionBackend(TOR_SPEC, options)
}

/**
 * A backend for a network that speaks Tor's control and SOCKS protocols:
 * Tor itself, and forks like ATOR (src/backends/ator) that only rename things.
 */
export function onionBackend (spec: OnionBackendSpec, options: TorBackendOptions = {}): Backend {
  const virtualPort = options.virtualPort ?? DEFAULT_ONION_PORT
  if (!Number.isInteger(virtualPort) || virtualPort < 1 || virtualPort > 65535) throw new TorConfigError(`onion port ${virtualPort} is not 1-65535`)
  let launched: LaunchedTor | undefined
  const controlHost = options.controlHost ?? '127.0.0.1'
  const controlPort = options.controlPort ?? 9051
  const candidates = options.torBinaries ?? spec.binaries
  return {
    name: spec.name,
    description: spec.description,
    role: 'both',
    addressProtocols: [spec.profile.addressProtocol],
    describeAddress: ma => describeOnionAddress(ma, spec.profile),
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    available: async (opts = {}): Promise<BackendAvailability> => {
      const bin = await findTor(candidates)
      if (options.launch != null) {
        return bin != null ? { status: 'ready', reason: `beam starts its own ${spec.program} (${bin})` } : { status: 'not-installed', reason: `no ${spec.program} binary found; ${spec.installHint}`, fix: 'binary' }
      }
      try {
        const ctl = await TorControl.connect({
          host: controlHost,
          port: controlPort,
          timeout: 3000,
          ...(options.controlPassword != null ? { password: options.controlPassword } : {}),
          ...(opts.signal != null ? { signal: opts.signal } : {})
        })
        try {
          const wrong = await spec.profile.checkDaemon?.(ctl)
          if (wrong != null) return { status: 'not-running', reason: `control port ${controlHost}:${controlPort}: ${wrong}` }
          const version = await ctl.getInfo('version').catch(() => '?')
          return { status: 'ready', reason: `${spec.program} ${version.split(' ')[0] ?? version} at control port ${controlHost}:${controlPort}` }
        } finally {
          ctl.close()
        }
      } catch (err) {
        if (err instanceof TorAuthError) return { status: 'not-running', reason: `control port ${controlHost}:${controlPort} answers but refuses beam: ${err.message}` }
        if (err instanceof TorControlError && bin == null) return { status: 'not-installed', reason: `no ${spec.program} binary found and no control port at ${controlHost}:${controlPort}; ${spec.installHint}`, fix: 'binary' }
        const code = ((err as Error).cause as NodeJS.ErrnoException | undefined)?.code
        const why = code === 'ECONNREFUSED' ? 'connection refused' : code ?? (err as Error).message
        return { status: 'not-running', reason: `no ${spec.profile.label} control port at ${controlHost}:${controlPort} (${why}): start ${spec.program} with ControlPort ${controlPort}, or let beam start its own ${spec.program}`, fix: 'launch' }
      }
    },
    start: async (context: BackendContext): Promise<void> => {
      if (options.launch == null || launched != null) return
      const bin = await findTor(candidates)
      if (bin == null) throw new TorLaunchError(`launching ${spec.program}: no ${spec.program} binary found (looked in ${candidates.join(', ')}); ${spec.installHint}`)
      launched = await launchTor({
        dataDir: options.launch.dataDir,
        torBinary: bin,
        label: spec.program,
        installHint: spec.installHint,
        ...(spec.requiredTorrc != null ? { requiredTorrc: spec.requiredTorrc } : {}),
        ...(spec.defaultsTorrc != null ? { defaultsTorrc: spec.defaultsTorrc } : {}),
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
      // read the launched daemon's ports lazily: start() runs before libp2p is built
      const ports = launched != null
        ? { socksHost: '127.0.0.1', socksPort: launched.socksPort, controlHost: '127.0.0.1', controlPort: launched.controlPort }
        : {}
      const { launch: _launch, virtualPort: _vp, torBinaries: _tb, ...init } = options
      return torTransport({ ...init, ...ports, profile: spec.profile, log: context.log })
    },
    listenAddrs: () => [`/${spec.profile.listenProtocol}/${virtualPort}`]
  }
}
