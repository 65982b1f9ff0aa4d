/** Multiaddrs of the I2P backend: `/garlic64/<destination>` and `/garlic32/<b32>`, optionally followed by `/p2p/<peer id>`. */
import { multiaddr } from '@multiformats/multiaddr'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BackendAddress } from '../backend.ts'
import { b32Of, parseB32, parseDestination } from './destination.ts'
import { I2pAddressError } from './errors.ts'

export type I2pTarget = { kind: 'garlic64', destination: string } | { kind: 'garlic32', b32: string }

/** What an I2P multiaddr points at; throws I2pAddressError for anything else. */
export function parseI2pMultiaddr (ma: Multiaddr): I2pTarget {
  const components = ma.getComponents()
  const first = components[0]
  const rest = components.slice(1)
  if (first == null || rest.some(c => c.name !== 'p2p') || rest.length > 1) throw new I2pAddressError(`not an I2P multiaddr: ${ma.toString().slice(0, 80)}`)
  const value = first.value ?? ''
  if (first.name === 'garlic64') return { kind: 'garlic64', destination: parseDestination(value) }
  if (first.name === 'garlic32') return { kind: 'garlic32', b32: parseB32(value) }
  throw new I2pAddressError(`not an I2P multiaddr: ${ma.toString().slice(0, 80)}`)
}

export function isI2pMultiaddr (ma: Multiaddr): boolean {
  try {
    parseI2pMultiaddr(ma)
    return true
  } catch {
    return false
  }
}

export function garlic64 (destination: string): Multiaddr {
  return multiaddr(`/garlic64/${destination}`)
}

/** `/garlic32/<b32>` of a `<b32>.b32.i2p` name (or the bare 52 characters). */
export function garlic32 (b32: string): Multiaddr {
  return multiaddr(`/garlic32/${parseB32(b32)}`)
}

/** The multiaddr protocols of I2P addresses. */
export const I2P_PROTOCOLS = ['garlic64', 'garlic32']

/**
 * How `ma` reads for people when it names an I2P destination anywhere in it:
 * its `<52 chars>.b32.i2p` name (for a destination that does not parse, the
 * address's first 40 characters); undefined for any other address.
 */
export function describeI2pAddress (ma: Multiaddr): BackendAddress | undefined {
  const c = ma.getComponents().find(c => I2P_PROTOCOLS.includes(c.name))
  if (c == null) return undefined
  const value = c.value ?? ''
  let display: string
  if (c.name === 'garlic32') {
    display = `${value}.b32.i2p`
  } else {
    try {
      display = b32Of(value)
    } catch {
      display = ma.toString().slice(0, 40)
    }
  }
  return { transport: 'i2p', network: 'I2P', kind: 'destination', display }
}
