import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The addresses libp2p's peer store holds for a peer now (from a connect
 * string, the address book, a DHT lookup or identify); [] when it knows none
 * or has no record of the peer.
 */
export async function knownAddresses (libp2p: Pick<Libp2p, 'peerStore'>, peerId: PeerId): Promise<Multiaddr[]> {
  try {
    const peer = await libp2p.peerStore.get(peerId)
    return peer.addresses.map(a => a.multiaddr)
  } catch {
    return []
  }
}
