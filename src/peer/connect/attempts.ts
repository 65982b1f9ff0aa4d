import { multiaddr } from '@multiformats/multiaddr'
import type { DialAttempt } from './dialer.ts'

/**
 * What dialling a peer tried and what each attempt answered, in one line
 * for an error message: `tcp 127.0.0.1:4001: connection refused; no DHT
 * configured`. A failure that hides its cause (a bare timeout) helps nobody.
 */

/** What one dial round tried (see PeerDialer.round). */
export interface RoundOutcome {
  /** Each address dialled and how it went. */
  attempts: DialAttempt[]
  /**
   * The DHT's part: `off` (the node runs no DHT), `none` (no bootstrap node
   * and no DHT peer: nobody to ask), or what the lookup gave. Unset when the
   * DHT was not asked (an address answered, or none was known).
   */
  dht?: string
  /** A failure that is not an address's (e.g. the peer routing's, with no address known). */
  error?: string
}

/** `tcp 127.0.0.1:4001`, `quic [::1]:4001`, `relay 10.0.0.1:4001` for a multiaddr; the multiaddr itself otherwise. */
export function describeAddress (address: string): string {
  try {
    const c = multiaddr(address).getComponents()
    const circuit = c.findIndex(x => x.name === 'p2p-circuit')
    if (circuit >= 0) return `relay ${describeAddress(multiaddr(address).decapsulate('/p2p-circuit').toString())}`.replace('relay relay', 'relay')
    const [ip, proto, rest] = c
    if (ip == null || proto == null || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(ip.name)) return address
    const host = ip.name === 'ip6' ? `[${ip.value ?? ''}]` : ip.value ?? ''
    if (proto.name === 'tcp') {
      const over = c.slice(2).filter(x => x.name === 'ws' || x.name === 'wss')[0]
      return `${over != null ? over.name : 'tcp'} ${host}:${proto.value ?? ''}`
    }
    if (proto.name === 'udp') return `${rest?.name === 'quic-v1' ? 'quic' : rest?.name ?? 'udp'} ${host}:${proto.value ?? ''}`
    return address
  } catch {
    return address
  }
}

/** A dial error in a few words: `connection refused`, `no answer`, … */
export function describeDialFailure (error: string | undefined): string {
  const e = error ?? 'failed'
  const relay = /^relay unreachable: (.*)$/s.exec(e)
  if (relay != null) return `relay unreachable (${describeDialFailure(relay[1])})`
  if (/ECONNREFUSED|connection refused/i.test(e)) return 'connection refused'
  if (/EHOSTUNREACH|host unreachable/i.test(e)) return 'host unreachable'
  if (/ENETUNREACH|network unreachable/i.test(e)) return 'network unreachable'
  if (/ECONNRESET/i.test(e)) return 'connection reset'
  if (/ETIMEDOUT|timed out|timeout|aborted/i.test(e)) return 'no answer'
  // a long message keeps its end, where the cause usually is ("…: onion
  // service needs client authorization"), and its start, which says what failed
  const line = e.split('\n')[0] ?? e
  return line.length > 200 ? `${line.slice(0, 60)}…${line.slice(-139)}` : line
}

/** The DHT's part of a round, in words. */
function describeDht (dht: string): string {
  if (dht === 'none') return 'no DHT configured'
  if (dht === 'off') return 'DHT off'
  return `DHT: ${dht}`
}

/**
 * Rounds in one line: each address tried with its last answer, then the
 * DHT's part of the last round that asked it (or could not).
 */
export function describeAttempts (rounds: RoundOutcome[]): string {
  const byAddress = new Map<string, string>()
  const other: string[] = []
  let dht: string | undefined
  for (const r of rounds) {
    for (const a of r.attempts) {
      if (a.ok || a.address === '') continue
      byAddress.set(describeAddress(a.address), describeDialFailure(a.error))
    }
    if (r.error != null) other.push(describeDialFailure(r.error))
    if (r.dht != null) dht = r.dht
  }
  const parts = [...byAddress].map(([addr, why]) => `${addr}: ${why}`)
  const shown = parts.slice(0, 6)
  if (parts.length > shown.length) shown.push(`${parts.length - shown.length} more address(es)`)
  for (const o of new Set(other)) shown.push(o)
  if (dht != null) shown.push(describeDht(dht))
  return shown.length > 0 ? shown.join('; ') : 'no address to dial'
}
