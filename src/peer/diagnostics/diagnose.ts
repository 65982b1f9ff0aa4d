import type { Multiaddr } from '@multiformats/multiaddr'
import type { BeamNode } from '../node/node.ts'
import { identifiedProtocols } from '../node/reservations.ts'
import type { Target } from '../discovery/target.ts'
import type { DialAttempt } from '../connect/dialer.ts'
import type { PathInfo } from '../connect/path.ts'
import type { UpgradeEvent } from '../connect/connect.ts'
import { answeredBy, probeNat, stunTargets } from './nat-probe.ts'
import type { NatReport } from './nat-probe.ts'
import { pingConnection } from '../connect/path.ts'

/** One bootstrap/relay node as seen from here. */
export interface BootstrapCheck {
  /** The node's address. */
  address: string
  /** Whether it could be dialled. */
  ok: boolean
  /** Ping round-trip time, in ms. */
  rttMs?: number
  /** Whether it runs a relay (circuit-relay hop protocol). */
  relay?: boolean
  /** Why the dial failed. */
  error?: string
}

/** Everything `beam doctor` found out. */
export interface DoctorReport {
  /** This node's peer id. */
  peerId: string
  /** How this machine's NAT maps UDP. */
  nat: NatReport
  /** The ICE servers used. */
  iceServers: string[]
  /** The STUN servers that answered (`host:port` as configured), in the order asked. */
  stunAnsweredBy: string[]
  /** Each bootstrap/relay node as seen from here. */
  bootstrap: BootstrapCheck[]
  /** The connect test, when a target was given. */
  target?: {
    /** The target peer. */
    peerId: string
    /** The connect attempt failed before any path existed. */
    error?: string
    /** Each address dialled. */
    attempts: DialAttempt[]
    /** Each attempt at a direct path. */
    upgrades: UpgradeEvent[]
    /** The path in use at the end. */
    path?: PathInfo
  }
}

/** Options of {@link diagnose}. */
export interface DiagnoseOptions {
  /** ICE server URLs the node uses (the STUN ones are probed). */
  iceServers: string[]
  /** How long to wait for the path to settle after connecting, in ms. @default 20000 */
  settleMs?: number
  /** Dial timeout for the target, in ms. @default 15000 */
  dialTimeout?: number
  /** Aborts the diagnosis. @default unset */
  signal?: AbortSignal
  /** Called with a line of progress ("probing NAT…"). */
  onProgress?: (line: string) => void
}

const HOP = '/libp2p/circuit/relay/0.2.0/hop'
/** How long to wait for a bootstrap node's identify answer after the ping, in ms. */
const IDENTIFY_TIMEOUT_MS = 10_000
/** How long dialling, and then pinging, a bootstrap node may each take. */
const BOOTSTRAP_TIMEOUT_MS = 8000

async function checkBootstrap (node: BeamNode, ma: Multiaddr, signal?: AbortSignal): Promise<BootstrapCheck> {
  const address = ma.toString()
  try {
    const conn = await node.libp2p.dial(ma, { signal: AbortSignal.any([AbortSignal.timeout(BOOTSTRAP_TIMEOUT_MS), ...(signal != null ? [signal] : [])]) })
    const rttMs = await pingConnection(conn, { signal: AbortSignal.timeout(BOOTSTRAP_TIMEOUT_MS) })
    // libp2p runs identify by itself on every new connection; on a busy
    // machine its answer can come seconds after the ping
    const deadline = Date.now() + IDENTIFY_TIMEOUT_MS
    let protocols = await identifiedProtocols(node.libp2p, conn.remotePeer)
    while (protocols == null && Date.now() < deadline && signal?.aborted !== true) {
      await new Promise(resolve => setTimeout(resolve, 50))
      protocols = await identifiedProtocols(node.libp2p, conn.remotePeer)
    }
    return { address, ok: true, rttMs, relay: protocols?.includes(HOP) ?? false }
  } catch (err) {
    return { address, ok: false, error: (err as Error).message }
  }
}

/**
 * Look at this machine's reachability (NAT mapping via STUN, bootstrap and
 * relay nodes) and, given a target, connect to it the way `beam connect` does
 * and record every dial and upgrade attempt and the path it ends on.
 */
export async function diagnose (node: BeamNode, target: Target | undefined, options: DiagnoseOptions): Promise<DoctorReport> {
  const progress = options.onProgress ?? (() => {})
  const servers = stunTargets(options.iceServers)
  progress(servers.length > 0 ? `probing NAT behaviour with ${servers.length} STUN server(s)…` : 'no STUN server configured: NAT behaviour cannot be measured')
  const nat = await probeNat({ servers, ...(options.signal != null ? { signal: options.signal } : {}) })
  progress(`checking ${node.bootstrapAddrs.length} bootstrap/relay node(s)…`)
  const bootstrap = await Promise.all(node.bootstrapAddrs.map(async ma => await checkBootstrap(node, ma, options.signal)))
  const report: DoctorReport = { peerId: node.peerId.toString(), nat, iceServers: options.iceServers, stunAnsweredBy: answeredBy(nat), bootstrap }
  if (target == null) return report

  progress(`connecting to ${target.peerId.toString()}…`)
  const upgrades: UpgradeEvent[] = []
  const t: NonNullable<DoctorReport['target']> = { peerId: target.peerId.toString(), attempts: [], upgrades }
  report.target = t
  let tunnel
  try {
    tunnel = await node.connect(target, { dialTimeout: options.dialTimeout ?? 15_000, ...(options.signal != null ? { signal: options.signal } : {}) })
  } catch (err) {
    t.error = (err as Error).message
    return report
  }
  try {
    tunnel.on('upgrade', u => { upgrades.push(u); if (u.state !== 'trying') progress(`WebRTC upgrade ${u.state}${u.error != null ? `: ${u.error}` : ''}`) })
    // settle: a direct path, or a failed upgrade, or the time is up
    const deadline = Date.now() + (options.settleMs ?? 20_000)
    while (Date.now() < deadline && options.signal?.aborted !== true) {
      const p = tunnel.path
      if (p?.direct === true) break
      if (p != null && p.transport !== 'relay' && p.ice != null) break
      if (upgrades.some(u => u.state === 'failed')) break
      if (p != null && p.transport === 'relay' && !node.webrtcEnabled) break
      await new Promise(resolve => setTimeout(resolve, 200))
    }
    // a loaded machine may need longer for the first path check: wait a little more for one
    for (let i = 0; i < 75 && tunnel.path == null && options.signal?.aborted !== true; i++) await new Promise(resolve => setTimeout(resolve, 200))
    if (tunnel.path != null) t.path = tunnel.path
    t.attempts = [...tunnel.attempts]
  } finally {
    await tunnel.close()
  }
  return report
}

/** How {@link explain} names the settings it suggests; a front end passes its own words (the CLI, its flags). */
export interface ExplainOptions {
  /** How to add a TURN server. @default 'a TURN server among the ICE servers (iceServers: turn:USER:PASS@HOST:PORT)' */
  turnServer?: string
}

const DEFAULT_TURN_SERVER = 'a TURN server among the ICE servers (iceServers: turn:USER:PASS@HOST:PORT)'

/** Why a path is what it is, in plain sentences, from a report (pure). */
export function explain (r: DoctorReport, options: ExplainOptions = {}): string[] {
  const turn = options.turnServer ?? DEFAULT_TURN_SERVER
  const out: string[] = []
  switch (r.nat.mapping) {
    case 'none': out.push('This machine has a public address: peers can reach it directly (if no firewall is in the way).'); break
    case 'endpoint-independent': out.push('Your NAT keeps one public port per local port (endpoint-independent mapping): WebRTC hole punching works against peers that are public or behind a NAT like yours.'); break
    case 'symmetric': out.push(`Your NAT picks a new public port for every destination (symmetric mapping): hole punching works only against a public peer; otherwise traffic goes through a relay (${turn} makes WebRTC work, relayed by it).`); break
    case 'unknown': out.push('Only one STUN server answered, so the NAT\'s mapping cannot be compared between two destinations (configure two relays or STUN servers).'); break
    case 'udp-blocked': out.push(r.iceServers.length === 0 ? 'No STUN server is configured: NAT behaviour is unknown and WebRTC can use host addresses only.' : 'No STUN server answered over UDP: UDP looks blocked, so WebRTC and QUIC cannot work from here; relays over TCP still do.'); break
  }
  if (r.stunAnsweredBy.length > 0) out.push(`STUN answered by ${r.stunAnsweredBy.join(', ')}.`)
  const okRelays = r.bootstrap.filter(b => b.ok && b.relay === true)
  if (r.bootstrap.length === 0) out.push('No bootstrap or relay node is configured: only peers whose addresses you hand over (connect strings) are reachable, and only directly.')
  else if (okRelays.length === 0) out.push(`None of the ${r.bootstrap.length} bootstrap node(s) is reachable as a relay: a peer behind a NAT cannot be reached from here.`)
  const t = r.target
  if (t == null) return out
  if (t.error != null) {
    out.push(`The peer could not be reached: ${t.error}.`)
    const failed = t.attempts.filter(a => !a.ok)
    if (failed.length > 0) out.push(`Tried ${failed.length} address(es): ${[...new Set(failed.map(a => `${a.kind} ${a.error ?? 'failed'}`))].slice(0, 4).join('; ')}.`)
    return out
  }
  const p = t.path
  const direct = t.attempts.filter(a => a.kind === 'direct')
  if (p == null) { out.push('Connected, but no working path was settled on.'); return out }
  if (p.direct) {
    out.push(`The tunnel is direct over ${p.transport}${p.rttMs != null ? ` (rtt ${p.rttMs} ms)` : ''}.`)
    return out
  }
  if (p.transport === 'webrtc') {
    out.push('The tunnel runs over WebRTC relayed by a TURN server: no direct UDP path exists between the two NATs.')
    return out
  }
  out.push(`The tunnel is relayed via ${p.remote.split('/p2p-circuit')[0] ?? p.remote}${p.rttMs != null ? ` (rtt ${p.rttMs} ms)` : ''}.`)
  if (direct.length === 0) out.push('The peer offered no direct address (it is behind a NAT, or listens on none).')
  else if (direct.every(a => !a.ok)) out.push(`None of its ${direct.length} direct address(es) answered (behind a NAT or a firewall): ${[...new Set(direct.map(a => a.error ?? 'failed'))].slice(0, 2).join('; ')}.`)
  const failed = t.upgrades.filter(u => u.state === 'failed')
  if (t.upgrades.length === 0) out.push('No WebRTC upgrade was tried (WebRTC is off here, or the peer offers no WebRTC address).')
  else if (failed.length > 0) {
    out.push(`WebRTC hole punching failed (${failed[0]?.error ?? 'no reason given'}).`)
    if (r.nat.mapping === 'symmetric') out.push(`Likely cause: your symmetric NAT. ${turn[0]?.toUpperCase() ?? ''}${turn.slice(1)} gives a WebRTC path; the circuit relay keeps working meanwhile.`)
    else out.push('Your side allows hole punching, so the peer\'s NAT probably maps per destination (symmetric) or its firewall drops UDP; a TURN server or a public share avoids the relay.')
  }
  return out
}
