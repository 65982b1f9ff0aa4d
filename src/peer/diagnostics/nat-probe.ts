import { createSocket } from 'node:dgram'
import type { Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { isIPv4 } from 'node:net'
import { lookup } from 'node:dns/promises'
import { bindingRequest, parseBindingSuccess } from '../../relay/index.ts'

export { bindingRequest, parseBindingSuccess }

/** What one STUN server answered. */
export interface StunAnswer {
  /** The server, `host:port` (as configured: a name stays a name). */
  server: string
  /** The IPv4 address asked, when `server` is a name (resolved once). */
  address?: string
  /** Mapped address as the server saw it, or undefined if it never answered. */
  mapped?: {
    /** The public IP address. */
    address: string
    /** The public UDP port. */
    port: number
  }
  /** Round-trip time of the answer, in ms. */
  rttMs?: number
  /** Why there was no answer. */
  error?: string
}

/**
 * How this machine's NAT maps UDP, from STUN answers seen from one socket:
 * - `none`: the mapped address is one of this machine's own (public host);
 * - `endpoint-independent`: every server saw the same address and port
 *   (hole punching works against another EIM NAT or a public peer);
 * - `symmetric`: servers saw different ports or addresses (a mapping per
 *   destination: hole punching works only against a public peer; TURN or the
 *   circuit relay otherwise);
 * - `unknown`: fewer than two servers answered, so mapping cannot be compared;
 * - `udp-blocked`: no server answered (no WebRTC, no QUIC; TCP relays only).
 */
export type NatMapping = 'none' | 'endpoint-independent' | 'symmetric' | 'unknown' | 'udp-blocked'

/** What {@link probeNat} found. */
export interface NatReport {
  /** How the NAT maps UDP. */
  mapping: NatMapping
  /** Each server's answer. */
  answers: StunAnswer[]
  /** This machine's IPv4 interface addresses (no loopback). */
  localAddresses: string[]
}

/** Options of {@link probeNat}. */
export interface NatProbeOptions {
  /** `host:port` STUN servers (from `stun:` ICE URLs). */
  servers: string[]
  /** Per-server time to answer, in ms. @default 1500 */
  timeout?: number
  /** Requests per server (UDP is lossy). @default 3 */
  attempts?: number
  /** Aborts the probe. @default unset */
  signal?: AbortSignal
  /**
   * Turns a server's host name into an IPv4 address. Only names are looked
   * up (an IP address is asked as it is). @default the system resolver (node:dns lookup, IPv4)
   */
  resolve?: (host: string) => Promise<string>
}

/** The system resolver's IPv4 address of `host`. */
async function systemResolve (host: string): Promise<string> {
  return (await lookup(host, { family: 4 })).address
}

/** The servers of a report that answered, `host:port` as configured (pure). */
export function answeredBy (report: Pick<NatReport, 'answers'>): string[] {
  return report.answers.filter(a => a.mapped != null).map(a => a.server)
}

/** The STUN servers (`host:port`) among ICE servers' URLs (pure; see {@link stunTargets}). */
export function stunServersOf (iceServers: ReadonlyArray<{ urls: string | string[] }>): string[] {
  return stunTargets(iceServers.flatMap(s => Array.isArray(s.urls) ? s.urls : [s.urls]))
}

/** `stun:host:port` (or `stuns:`) ICE URLs → `host:port`; other schemes are dropped. */
export function stunTargets (urls: string[]): string[] {
  const out: string[] = []
  for (const u of urls) {
    const m = /^stuns?:([^?]+?)(?::(\d+))?(?:\?.*)?$/.exec(u)
    if (m != null) out.push(`${m[1] ?? ''}:${m[2] ?? '3478'}`)
  }
  return [...new Set(out)]
}

/** Classify answers seen from one socket (pure; see {@link NatMapping}). */
export function classifyMapping (answers: StunAnswer[], localAddresses: string[]): NatMapping {
  const mapped = answers.flatMap(a => a.mapped != null ? [a.mapped] : [])
  if (mapped.length === 0) return 'udp-blocked'
  if (mapped.some(m => localAddresses.includes(m.address))) return 'none'
  if (mapped.length < 2) return 'unknown'
  const first = mapped[0]
  const same = mapped.every(m => m.address === first?.address && m.port === first.port)
  return same ? 'endpoint-independent' : 'symmetric'
}

function localIpv4 (): string[] {
  return Object.values(networkInterfaces()).flat()
    .flatMap(i => i != null && i.family === 'IPv4' && !i.internal ? [i.address] : [])
}

async function ask (sock: Socket, server: string, options: Required<Omit<NatProbeOptions, 'servers' | 'signal'>> & { signal?: AbortSignal }): Promise<StunAnswer> {
  const at = server.lastIndexOf(':')
  const name = server.slice(0, at)
  const port = Number(server.slice(at + 1))
  let host = name
  if (!isIPv4(name)) {
    if (name.includes(':') || name.startsWith('[')) return { server, error: 'an IPv6 address (the probe asks over IPv4)' }
    try {
      host = await options.resolve(name)
    } catch (err) {
      return { server, error: `cannot resolve ${name} (${(err as NodeJS.ErrnoException).code ?? 'error'})` }
    }
    if (!isIPv4(host)) return { server, error: `${name} did not resolve to an IPv4 address` }
  }
  const named = host !== name ? { address: host } : {}
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    options.signal?.throwIfAborted()
    const txid = randomBytes(12)
    const start = performance.now()
    const answer = await new Promise<{ address: string, port: number } | undefined>((resolve) => {
      const onMessage = (msg: Buffer): void => {
        const m = parseBindingSuccess(msg, txid)
        if (m != null) { done(); resolve(m) }
      }
      const t = setTimeout(() => { done(); resolve(undefined) }, options.timeout)
      const done = (): void => { clearTimeout(t); sock.off('message', onMessage) }
      sock.on('message', onMessage)
      sock.send(bindingRequest(txid), port, host, (err) => { if (err != null) { done(); resolve(undefined) } })
    })
    if (answer != null) return { server, ...named, mapped: answer, rttMs: Math.round((performance.now() - start) * 100) / 100 }
  }
  return { server, ...named, error: `no answer to ${options.attempts} requests` }
}

/**
 * Ask every STUN server, one after another from one UDP socket, what this
 * machine's address looks like, and classify the NAT's mapping behaviour.
 * Sends only to the given servers; bounded by attempts × timeout per server.
 */
export async function probeNat (options: NatProbeOptions): Promise<NatReport> {
  const localAddresses = localIpv4()
  const sock = createSocket('udp4')
  await new Promise<void>((resolve, reject) => { sock.once('error', reject); sock.bind(0, () => { sock.off('error', reject); resolve() }) })
  sock.on('error', () => {})
  try {
    const answers: StunAnswer[] = []
    for (const server of options.servers) {
      answers.push(await ask(sock, server, { timeout: options.timeout ?? 1500, attempts: options.attempts ?? 3, resolve: options.resolve ?? systemResolve, ...(options.signal != null ? { signal: options.signal } : {}) }))
    }
    return { mapping: classifyMapping(answers, localAddresses), answers, localAddresses }
  } finally {
    sock.close()
  }
}
