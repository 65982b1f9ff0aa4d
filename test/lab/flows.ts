/**
 * Reads `conntrack -L` output of a lab NAT router (with nf_conntrack_acct on,
 * see netlab.ts) into flows with byte counters, so that a test can say which
 * path carried a transfer: straight to the other peer, or to a relay.
 */
export interface FlowEnd { src: string, dst: string, sport: number, dport: number, packets: number, bytes: number }
export interface Flow { proto: string, orig: FlowEnd, reply: FlowEnd }

function end (fields: Map<string, string[]>, i: number): FlowEnd {
  const get = (k: string): string => fields.get(k)?.[i] ?? ''
  return { src: get('src'), dst: get('dst'), sport: Number(get('sport')), dport: Number(get('dport')), packets: Number(get('packets') || 0), bytes: Number(get('bytes') || 0) }
}

export function parseConntrack (text: string): Flow[] {
  const flows: Flow[] = []
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/)
    const proto = words[0]
    if (proto !== 'tcp' && proto !== 'udp') continue
    const fields = new Map<string, string[]>()
    for (const w of words) {
      const eq = w.indexOf('=')
      if (eq <= 0) continue
      const k = w.slice(0, eq)
      fields.set(k, [...(fields.get(k) ?? []), w.slice(eq + 1)])
    }
    flows.push({ proto, orig: end(fields, 0), reply: end(fields, 1) })
  }
  return flows
}

/** Both directions' bytes of the flows from this NAT towards `remoteIp` (optionally one protocol). */
export function bytesTo (flows: Flow[], remoteIp: string, proto?: 'tcp' | 'udp'): number {
  return flows
    .filter(f => (proto == null || f.proto === proto) && f.orig.dst === remoteIp)
    .reduce((n, f) => n + f.orig.bytes + f.reply.bytes, 0)
}

/** True if any flow has byte counters (nf_conntrack_acct is on). */
export function hasCounters (flows: Flow[]): boolean {
  return flows.some(f => f.orig.bytes > 0 || f.reply.bytes > 0)
}
