/**
 * How optimistic-select.ts reaches libp2p's muxers. Written for libp2p 3.3.11
 * with @chainsafe/libp2p-yamux 8.0.1. Retire it with optimistic-select.ts
 * (libp2p implementing `negotiateFully: false`), or when libp2p lets a node
 * configure muxers' outbound negotiation itself.
 */
import type { StreamMuxer, StreamMuxerFactory } from '@libp2p/interface'

/**
 * A stream-muxer factory like `make`, that hands every muxer it creates to
 * `onMuxer` before libp2p uses it: how beam's muxer changes
 * (optimistic-select.ts) reach muxers, which libp2p creates per connection
 * out of sight.
 */
export function tapMuxers (make: () => StreamMuxerFactory, onMuxer: (muxer: StreamMuxer) => void): () => StreamMuxerFactory {
  return () => {
    const factory = make()
    const createStreamMuxer = factory.createStreamMuxer.bind(factory)
    factory.createStreamMuxer = (maConn) => {
      const muxer = createStreamMuxer(maConn)
      onMuxer(muxer)
      return muxer
    }
    return factory
  }
}
