/**
 * The line a share prints (and puts in its `hint` field) when it cannot be
 * reached from the internet, or only through limited relays: what that means
 * and what to do, with the flags that do it.
 */
import type { Reachability } from '../peer/index.ts'

/** What each reachability means, in a few words (the banner's `reachable:` line). */
export const REACHABILITY_LABEL: Record<Reachability, string> = {
  public: 'public (peers can dial this machine directly)',
  relayed: 'relayed (through a relay without limits; a direct path is tried too)',
  'signalling-only': 'signalling-only (only limited relays: they set up a direct path but carry no tunnel)',
  'lan-only': 'lan-only (only this network can reach this share)'
}

/** The hint for `lan-only` and `signalling-only`; undefined for the others. */
export function reachabilityHint (r: Reachability): string | undefined {
  if (r === 'lan-only') {
    return 'nothing outside this network can reach this share: name a beam relay with --bootstrap <multiaddr> (docs/relay.md), or forward a port to a --listen address and --announce the public one'
  }
  if (r === 'signalling-only') {
    return 'only limited relays hold this share: a peer reaches it there, but the tunnel needs a direct path (WebRTC with STUN) or a TURN server (--ice-server turn:USER:PASS@HOST:PORT); a beam relay (--bootstrap) or port forwarding makes it dependable'
  }
  return undefined
}
