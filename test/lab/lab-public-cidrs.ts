import { registerHooks } from 'node:module'

/**
 * BEAM_LAB_PUBLIC_CIDRS: a switch for NAT labs only.
 *
 * js-libp2p (`isPrivateIp` in @libp2p/utils) classifies the documentation
 * ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and 100.64.0.0/10 as
 * private: identify drops observed addresses there, DCUtR and AutoNAT skip
 * them. A lab that plays "the internet" on those ranges would then test
 * something no real deployment does. With the variable set (comma-separated
 * IPv4 CIDRs) addresses inside those ranges count as public for every libp2p
 * module of this process. Unset or empty, nothing is installed and nothing
 * changes. Never set it outside a lab.
 *
 * It lives with the lab, not in the shipped CLI: the lab's beam processes load
 * it before beam itself through `node --import` (lab-public-cidrs-hook.ts, put
 * in NODE_OPTIONS by lab-beam.ts).
 */
export const LAB_PUBLIC_CIDRS_ENV = 'BEAM_LAB_PUBLIC_CIDRS'

/** The module whose `isPrivateIp` every libp2p package consults. */
const TARGET = '/@libp2p/utils/dist/src/private-ip.js'
const UPSTREAM_EXPORT = 'export function isPrivateIp('

export class LabCidrError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'LabCidrError'
  }
}

/** One IPv4 range as [network, mask], both unsigned 32-bit. */
export type Ipv4Range = [number, number]

/** Parse dotted-quad IPv4 into an unsigned 32-bit number, or undefined. */
export function ipv4ToInt (text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined
    const v = Number(p)
    if (v > 255) return undefined
    n = n * 256 + v
  }
  return n
}

/** Parse `a.b.c.d/len, …`; throws LabCidrError naming the bad entry. */
export function parseCidrList (text: string): Ipv4Range[] {
  const out: Ipv4Range[] = []
  for (const raw of text.split(',')) {
    const entry = raw.trim()
    if (entry === '') continue
    const m = /^([^/]+)\/(\d{1,2})$/.exec(entry)
    const ip = m != null ? ipv4ToInt(m[1] ?? '') : undefined
    const len = m != null ? Number(m[2]) : NaN
    if (ip == null || !(len >= 0 && len <= 32)) {
      throw new LabCidrError(`${LAB_PUBLIC_CIDRS_ENV}: '${entry}' is not an IPv4 CIDR like 198.51.100.0/24`)
    }
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0
    out.push([(ip & mask) >>> 0, mask])
  }
  if (out.length === 0) throw new LabCidrError(`${LAB_PUBLIC_CIDRS_ENV} is set but lists no CIDR`)
  return out
}

/** True if `ip` (dotted quad, or ::ffff:-mapped) lies in one of the ranges. */
export function inRanges (ip: string, ranges: Ipv4Range[]): boolean {
  const v4 = ip.startsWith('::ffff:') ? ip.slice(7) : ip
  const n = ipv4ToInt(v4)
  if (n == null) return false
  return ranges.some(([net, mask]) => ((n & mask) >>> 0) === net)
}

/**
 * Rewrite the source of @libp2p/utils' private-ip module so that `isPrivateIp`
 * answers false inside `ranges` and defers to the original elsewhere. Exported
 * for its unit test; throws if the upstream module no longer has the shape
 * this relies on (the switch must fail loudly, never silently do nothing).
 */
export function patchPrivateIpSource (source: string, ranges: Ipv4Range[]): string {
  if (!source.includes(UPSTREAM_EXPORT)) {
    throw new LabCidrError(`${LAB_PUBLIC_CIDRS_ENV}: @libp2p/utils changed; cannot find isPrivateIp to patch`)
  }
  const renamed = source.replace(UPSTREAM_EXPORT, 'function upstreamIsPrivateIp(')
  return `${renamed}
const BEAM_LAB_PUBLIC = ${JSON.stringify(ranges)};
function beamLabIpv4 (s) {
  const p = s.startsWith('::ffff:') ? s.slice(7).split('.') : s.split('.');
  if (p.length !== 4 || p.some(x => !/^\\d{1,3}$/.test(x))) return undefined;
  return p.reduce((n, x) => n * 256 + Number(x), 0);
}
export function isPrivateIp (ip) {
  const n = beamLabIpv4(ip);
  if (n !== undefined && BEAM_LAB_PUBLIC.some(([net, mask]) => ((n & mask) >>> 0) === net)) return false;
  return upstreamIsPrivateIp(ip);
}
`
}

/**
 * Install the switch if the variable is set. Must run before any libp2p module
 * is loaded (lab-public-cidrs-hook.ts calls it from `node --import`, before beam starts).
 * Returns the ranges installed, or undefined when the variable is unset.
 */
export function installLabPublicCidrs (value: string | undefined): Ipv4Range[] | undefined {
  if (value == null || value === '') return undefined
  const ranges = parseCidrList(value)
  registerHooks({
    load (url, context, nextLoad) {
      const result = nextLoad(url, context)
      if (!url.endsWith(TARGET) || result.source == null) return result
      return { ...result, source: patchPrivateIpSource(typeof result.source === 'string' ? result.source : Buffer.from(result.source as Uint8Array).toString('utf8'), ranges) }
    }
  })
  return ranges
}
