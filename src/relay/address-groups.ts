import { isIPv4, isIPv6 } from 'node:net'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Where a connection comes from, as a relay's per-address caps count it: the
 * exact IP, and the network it belongs to. An IPv4 host's network is its /24;
 * an IPv6 host's is its /48, the usual allocation to one site (a /64 is one
 * LAN, and a single VPS often gets a whole /64 or /48 to draw addresses from).
 */
export interface AddressGroup {
  /** e.g. `ip4:198.51.100.7`, `ip6:2001:db8:1:2:0:0:0:7` (every group written out, lowercase). */
  ip: string
  /** e.g. `ip4/24:198.51.100`, `ip6/48:2001:db8:1`. */
  subnet: string
}

/** The 16 bytes of an IPv6 address (`::`, an embedded dotted IPv4 tail); undefined if it is not one. */
export function ipv6Bytes (address: string): Uint8Array | undefined {
  if (!isIPv6(address)) return undefined
  let text = address.toLowerCase()
  const zone = text.indexOf('%')
  if (zone >= 0) text = text.slice(0, zone)
  const tail: number[] = []
  const lastColon = text.lastIndexOf(':')
  if (isIPv4(text.slice(lastColon + 1))) {
    const quad = text.slice(lastColon + 1).split('.').map(Number)
    tail.push(((quad[0] ?? 0) << 8) | (quad[1] ?? 0), ((quad[2] ?? 0) << 8) | (quad[3] ?? 0))
    text = text.slice(0, lastColon + 1) + '0:0'
  }
  const [head = '', rest] = text.split('::')
  const words = (s: string): number[] => s === '' ? [] : s.split(':').map(w => parseInt(w, 16))
  let groups: number[]
  if (rest == null) {
    groups = words(head)
  } else {
    const h = words(head)
    const t = words(rest)
    groups = [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t]
  }
  if (tail.length > 0) groups = [...groups.slice(0, 6), ...tail]
  const out = new Uint8Array(16)
  groups.slice(0, 8).forEach((g, i) => { out[i * 2] = g >> 8; out[i * 2 + 1] = g & 0xff })
  return out
}

function ipv4Group (address: string): AddressGroup {
  return { ip: `ip4:${address}`, subnet: `ip4/24:${address.split('.').slice(0, 3).join('.')}` }
}

/** The group of an IP address string (IPv4-mapped IPv6 counts as IPv4); undefined if it is not an IP. */
export function groupOfIp (address: string): AddressGroup | undefined {
  if (isIPv4(address)) return ipv4Group(address)
  const b = ipv6Bytes(address)
  if (b == null) return undefined
  if (b.subarray(0, 10).every(x => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return ipv4Group(`${b[12] ?? 0}.${b[13] ?? 0}.${b[14] ?? 0}.${b[15] ?? 0}`)
  }
  const word = (i: number): string => (((b[i * 2] ?? 0) << 8) | (b[i * 2 + 1] ?? 0)).toString(16)
  const full = [0, 1, 2, 3, 4, 5, 6, 7].map(word).join(':')
  return { ip: `ip6:${full}`, subnet: `ip6/48:${[0, 1, 2].map(word).join(':')}` }
}

/**
 * The group of a connection's remote address. An address with no IP (none
 * reaches a relay's caps over TCP, QUIC or WebSockets) is its own host, and
 * all such addresses share one network, so they cannot get around a cap.
 */
export function addressGroup (remote: Multiaddr): AddressGroup {
  for (const c of remote.getComponents()) {
    if ((c.name === 'ip4' || c.name === 'ip6') && c.value != null) {
      const g = groupOfIp(c.value)
      if (g != null) return g
    }
  }
  const text = remote.toString()
  const at = text.indexOf('/p2p/')
  return { ip: `other:${at >= 0 ? text.slice(0, at) : text}`, subnet: 'other' }
}
