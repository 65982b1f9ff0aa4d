/**
 * What every node of the CLI runs with (identity, bootstrap list, ICE
 * servers, WebRTC, DHT), merged once from the flags, the environment and
 * the config file's `backends.direct` entry into typed values.
 *
 * Precedence, as the CLI has always had it (docs/configuration.md):
 * - bootstrap: `--bootstrap`; else the file's `direct.bootstrap` (an empty
 *   list there falls through to the default below, not to the variable);
 *   else `BEAM_BOOTSTRAP`; else none with `--no-default-bootstrap`; else
 *   the file `BEAM_BOOTSTRAP_FILE` names; else bootstrap-nodes.json.
 * - ICE servers: `--ice-server` and `--ice-server-file` together; else the
 *   file's `direct.iceServers` (`[]` there is "none"); else
 *   `BEAM_ICE_SERVERS`; an empty result is the beam relays' own STUN
 *   responders; and when no relay offers one, the public STUN servers
 *   (PUBLIC_STUN_SERVERS) unless `--no-public-stun`, `BEAM_NO_PUBLIC_STUN`
 *   or the file's `direct.publicStun: false` say no. Anonymous-only nodes
 *   use none at all (toBeamInit).
 * - identity, DHT protocol: the flag, else its variable (commander reads
 *   `BEAM_IDENTITY`, `BEAM_DHT_PROTOCOL`); the file has no such keys.
 */
import { loadBootstrapFile, parsePeerMultiaddr, stunServersOf, DEFAULT_BOOTSTRAP_FILE, DEFAULT_DHT_PROTOCOL, PUBLIC_STUN_SERVERS } from '../../peer/index.ts'
import type { BootstrapNode, IceServer, Logger } from '../../peer/index.ts'
import { UsageError } from '../exit-codes.ts'
import { identityOf, parseDhtProtocol, parseIceServer } from '../context.ts'
import type { CommonFlags, IdentitySettings } from '../context.ts'
import { splitList } from '../parse.ts'
import { linesOf, readSecretInput } from '../secret-input.ts'
import type { SecretInputIo } from '../secret-input.ts'
import type { DirectBackendConfig, IceServerConfig } from '../config/index.ts'

/** The node settings every command shares. */
export interface NodeSettings {
  identity: IdentitySettings
  /** Bootstrap and relay nodes. @default bootstrap-nodes.json */
  bootstrap: BootstrapNode[]
  /** STUN/TURN servers for WebRTC. @default the beam relays' STUN responders, else PUBLIC_STUN_SERVERS */
  iceServers: IceServer[]
  /**
   * Where {@link iceServers} came from: given (`explicit`), the beam relays'
   * STUN responders (`relays`), the public STUN list (`public`), or none.
   */
  iceSource: IceSource
  /** @default true */
  webrtc: boolean
  /** `false`: no DHT. @default a client of the public DHT's protocol */
  dht: false | { protocol: string, server: boolean }
  /** Pinned WebRTC host candidate (`BEAM_WEBRTC_BIND`; lab and tests only). @default none */
  webrtcBindAddress?: string
}

/** Where a node's ICE servers came from (doctor names it). */
export type IceSource = 'explicit' | 'relays' | 'public' | 'none'

/** Whether an environment variable says yes (`1`, `true`, `yes`; anything else is no). */
export function envYes (value: string | undefined): boolean {
  return value != null && /^(1|true|yes)$/i.test(value.trim())
}

/** A file's ICE server entry, one IceServer per URL; a URL may carry `USER:PASS@` itself. */
export function iceServersOf (s: IceServerConfig): IceServer[] {
  return s.urls.map(url => s.username != null && /^turns?:/.test(url)
    ? { urls: url, username: s.username, credential: s.credential ?? '' }
    : parseIceServer(url))
}

/** The bootstrap list: flag, file, variable, bootstrap-nodes.json (see the precedence above). */
async function bootstrapOf (flags: CommonFlags, env: NodeJS.ProcessEnv, log: Logger, direct: DirectBackendConfig | undefined): Promise<BootstrapNode[]> {
  const fromFlagOrFile = flags.bootstrap ?? direct?.bootstrap
  const given = fromFlagOrFile ?? splitList(env.BEAM_BOOTSTRAP)
  if (given.length > 0) return given.map(text => ({ multiaddr: parsePeerMultiaddr(text), roles: ['bootstrap', 'relay'] }))
  if (flags.defaultBootstrap === false) return []
  const file = env.BEAM_BOOTSTRAP_FILE != null && env.BEAM_BOOTSTRAP_FILE !== '' ? env.BEAM_BOOTSTRAP_FILE : DEFAULT_BOOTSTRAP_FILE
  const list = await loadBootstrapFile(file)
  for (const d of list.dropped) log.warn({ entry: d.entry }, `${file}: entry dropped: ${d.reason}`)
  log.debug({ file, nodes: list.nodes.length }, 'bootstrap list loaded')
  if (list.nodes.length === 0) {
    log.debug(`${file} lists no node: only peers whose addresses are known (connect strings) can be reached`)
  }
  return list.nodes
}

/**
 * The flags, the environment and the file's `direct` entry (pass it only
 * when the direct backend is used) as node settings. Reads
 * `--ice-server-file` and bootstrap-nodes.json. Throws UsageError or
 * InvalidMultiaddrError.
 */
export async function nodeSettings (flags: CommonFlags, io: SecretInputIo, log: Logger, direct?: DirectBackendConfig): Promise<NodeSettings> {
  if (flags.dht === false && flags.dhtServer === true) throw new UsageError('--dht-server and --no-dht exclude each other')
  const bootstrap = await bootstrapOf(flags, io.env, log, direct)
  // explicit ICE servers win; otherwise the relays' own STUN responders (never a third party's)
  const fromFile = flags.iceServerFile != null ? linesOf(await readSecretInput(flags.iceServerFile, '--ice-server-file', io)) : undefined
  if (fromFile?.length === 0) throw new UsageError(`--ice-server-file ${flags.iceServerFile ?? ''}: lists no server`)
  let ice: IceServer[]
  // an explicit empty list (the file's `iceServers: []`) means none: no relay STUN, no public STUN
  let explicitNone = false
  if (flags.iceServer != null || fromFile != null) ice = [...(flags.iceServer ?? []), ...(fromFile ?? [])].map(parseIceServer)
  else if (direct?.iceServers != null) {
    ice = direct.iceServers.flatMap(iceServersOf)
    explicitNone = ice.length === 0
  } else {
    ice = splitList(io.env.BEAM_ICE_SERVERS).map(parseIceServer)
  }
  const publicStun = flags.publicStun !== false && !envYes(io.env.BEAM_NO_PUBLIC_STUN) && direct?.publicStun !== false
  const { iceServers, iceSource } = chooseIceServers({ explicit: ice, explicitNone, relayStun: stunServersOf(bootstrap), publicStun })
  const settings: NodeSettings = {
    identity: identityOf(flags),
    bootstrap,
    iceServers,
    iceSource,
    webrtc: flags.webrtc !== false,
    dht: flags.dht === false ? false : { protocol: parseDhtProtocol(flags.dhtProtocol ?? DEFAULT_DHT_PROTOCOL), server: flags.dhtServer === true }
  }
  // loopback WebRTC needs a pinned host candidate; lab/test switch only
  if (io.env.BEAM_WEBRTC_BIND != null && io.env.BEAM_WEBRTC_BIND !== '') settings.webrtcBindAddress = io.env.BEAM_WEBRTC_BIND
  return settings
}

/**
 * The ICE servers a clearnet node uses (pure): the explicit ones; else the
 * beam relays' STUN responders; else, when allowed, the public STUN list.
 */
export function chooseIceServers (o: {
  /** Given with flags, the config file or BEAM_ICE_SERVERS. */
  explicit: IceServer[]
  /** The config file said `iceServers: []`. */
  explicitNone?: boolean
  /** `stun:` URLs of the beam relays in the bootstrap list. */
  relayStun: string[]
  /** Whether the public STUN list may be used. */
  publicStun: boolean
}): { iceServers: IceServer[], iceSource: IceSource } {
  if (o.explicit.length > 0) return { iceServers: o.explicit, iceSource: 'explicit' }
  if (o.explicitNone === true) return { iceServers: [], iceSource: 'none' }
  if (o.relayStun.length > 0) return { iceServers: o.relayStun.map(urls => ({ urls })), iceSource: 'relays' }
  if (o.publicStun) return { iceServers: PUBLIC_STUN_SERVERS.map(urls => ({ urls })), iceSource: 'public' }
  return { iceServers: [], iceSource: 'none' }
}
