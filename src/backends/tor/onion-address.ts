/**
 * Addresses of Tor-protocol networks: the `/onion3/<56 chars>:<port>` service
 * address and the `/onion3-listen/<port>` listen request (a protocol
 * registered here with @multiformats/multiaddr; code 0x300a0e, private use),
 * the profile that tells one such network from another (Tor, ATOR), and how
 * an address reads for people.
 */
import { registry } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BackendAddress } from '../backend.ts'
import type { TorControl } from './control.ts'
import { TorConfigError } from './errors.ts'

/** The listen protocol a share uses to ask for an onion service. */
export const ONION_LISTEN_PROTOCOL = 'onion3-listen'
const ONION_LISTEN_CODE = 0x300a0e

/**
 * Register a multiaddr protocol whose value is text (length-prefixed, private
 * use code), once per process. Backends built on this transport (ATOR) use it
 * for their own address and listen protocols.
 */
export function registerTextProtocol (name: string, code: number, validate: (value: string) => void): void {
  try {
    registry.getProtocol(name)
    return
  } catch {}
  registry.addProtocol({
    code,
    name,
    size: -1,
    valueToBytes: (v: string) => new TextEncoder().encode(v),
    bytesToValue: (b: Uint8Array) => new TextDecoder().decode(b),
    validate
  })
}

/** Validator of a `/<listen protocol>/<port>` value. */
export function validateListenPort (protocol: string): (v: string) => void {
  return (v: string) => {
    if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new TorConfigError(`/${protocol}/<port>: '${v}' is not a port 1-65535`)
  }
}

registerTextProtocol(ONION_LISTEN_PROTOCOL, ONION_LISTEN_CODE, validateListenPort(ONION_LISTEN_PROTOCOL))

/**
 * What tells one Tor-protocol network from another: the multiaddr protocols
 * its addresses and listen requests use, and the suffix the daemon's SOCKS
 * port expects. Tor is the default; ATOR (src/backends/ator) passes its own.
 */
export interface OnionNetworkProfile {
  /** Log component and transport tag, e.g. 'tor'. */
  name: string
  /** What users read, e.g. 'Tor'. */
  label: string
  /** Multiaddr protocol of a service address (`/<it>/<56 chars>:<port>`), e.g. 'onion3'. */
  addressProtocol: string
  /** Multiaddr protocol of a share's listen request (`/<it>/<port>`), e.g. 'onion3-listen'. */
  listenProtocol: string
  /** Host suffix handed to the SOCKS port, e.g. '.onion'. */
  hostSuffix: string
  /** Older address protocols a path over this network may still show, e.g. Tor's 'onion' (v2). @default [] */
  olderProtocols?: string[]
  /**
   * Checks, on a fresh control connection, that the daemon is this network's
   * (ATOR: anon, not tor); resolves with the reason when it is not. Run by
   * `available()` and before a listener creates its onion. @default unset (no check)
   */
  checkDaemon?: (control: TorControl) => Promise<string | undefined>
}

/** The Tor network. */
export const TOR_PROFILE: OnionNetworkProfile = { name: 'tor', label: 'Tor', addressProtocol: 'onion3', listenProtocol: ONION_LISTEN_PROTOCOL, hostSuffix: '.onion', olderProtocols: ['onion'] }

const ONION_RE = /^[a-z2-7]{56}$/

/** `/onion3/<id>:<port>` (optionally followed by `/p2p/…`) → host and port; undefined if it is not one. */
export function parseOnion3 (ma: Multiaddr): { serviceId: string, port: number } | undefined {
  return parseOnionAddress(ma, TOR_PROFILE.addressProtocol)
}

/** `/<protocol>/<id>:<port>` (optionally followed by `/p2p/…`) → service id and port; undefined if it is not one. */
export function parseOnionAddress (ma: Multiaddr, protocol: string): { serviceId: string, port: number } | undefined {
  const c = ma.getComponents()[0]
  if (c?.name !== protocol || c.value == null) return undefined
  const [id, port] = c.value.split(':')
  if (id == null || !ONION_RE.test(id) || port == null || !/^\d{1,5}$/.test(port)) return undefined
  return { serviceId: id, port: Number(port) }
}

/** Validator of a `/<address protocol>/<56 chars>:<port>` value. */
export function validateOnionValue (protocol: string): (v: string) => void {
  return (v: string) => {
    const [id, port] = v.split(':')
    if (id == null || !ONION_RE.test(id) || port == null || !/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
      throw new TorConfigError(`/${protocol}/<service id>:<port>: '${v}' is not 56 base32 characters, a colon and a port 1-65535`)
    }
  }
}

export function isOnionListen (ma: Multiaddr, protocol: string): boolean {
  const comps = ma.getComponents()
  return comps.length === 1 && comps[0]?.name === protocol
}

/**
 * How `ma` reads for people when it names a service of `profile`'s network
 * anywhere in it (`<56 chars>.onion:4001`); undefined for any other address.
 */
export function describeOnionAddress (ma: Multiaddr, profile: OnionNetworkProfile): BackendAddress | undefined {
  const protocols = [profile.addressProtocol, ...(profile.olderProtocols ?? [])]
  const c = ma.getComponents().find(c => protocols.includes(c.name))
  if (c == null) return undefined
  const [id, port] = (c.value ?? '').split(':')
  const display = port != null ? `${id ?? ''}${profile.hostSuffix}:${port}` : `${id ?? ''}${profile.hostSuffix}`
  return { transport: profile.name, network: profile.label, kind: 'onion service', display }
}
