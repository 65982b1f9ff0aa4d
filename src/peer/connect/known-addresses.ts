import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'

// A copy of node.ts's knownAddresses, kept apart so that connect.ts imports
// it in one line: when src/peer/discovery/ has the shared function, that
// import changes and this file goes.

/** The peer's addresses in the peer store (none when it is unknown). */
export async function knownAddresses (libp2p: Libp2p, peerId: PeerId): Promise<Multiaddr[]> {
  try {
    const peer = await libp2p.peerStore.get(peerId)
    return peer.addresses.map(a => a.multiaddr)
  } catch {
    return []
  }
}
