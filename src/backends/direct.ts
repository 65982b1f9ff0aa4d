import type { Backend } from './backend.ts'

/** TCP, QUIC, WebRTC and circuit relays: beam's own networking. */
export const directBackend: Backend = {
  name: 'direct',
  description: 'libp2p over TCP, QUIC and WebRTC, with circuit relays as fallback',
  role: 'both',
  addressProtocols: ['tcp', 'quic-v1', 'webrtc', 'p2p-circuit'],
  anonymity: { sharer: false, connector: false },
  latency: 'internet',
  available: async () => ({ status: 'ready' })
}
