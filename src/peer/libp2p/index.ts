/** What configures or patches libp2p internals: the libp2p options, and the Noise, TCP, QUIC (read sizes), multistream-select, muxer (frame coalescing, window updates), peer-store (protocol merges) and lazy-transport patches. */
export type { IceServer, TransportSelection } from './libp2p-options.ts'
export type { BeamServices } from './libp2p-options.ts'
