import type { Backend, BackendAvailability } from './backend.ts'

interface Planned {
  name: string
  description: string
  addressProtocols: string[]
  reason: string
}

/**
 * Networks in beam's plan that beam cannot use yet. They are listed so that
 * `beam backends` says so plainly instead of pretending; each entry turns into
 * a real backend (with its own file here) when it works and is tested.
 */
const PLANNED: Planned[] = [
  { name: 'tor', description: 'Tor onion services (v3)', addressProtocols: ['onion3'], reason: 'not implemented yet: next backend (onion services through the Tor control port, dialling through SOCKS5)' },
  { name: 'i2p', description: 'I2P through the SAM v3 bridge', addressProtocols: ['garlic64', 'garlic32'], reason: 'not implemented yet: planned after Tor' },
  { name: 'nym', description: 'Nym mixnet', addressProtocols: [], reason: 'not implemented: no evaluation of a Node.js client yet' },
  { name: 'veilid', description: 'Veilid private routes', addressProtocols: [], reason: 'not implemented: no evaluation of a Node.js binding yet' },
  { name: 'freenet', description: 'Freenet', addressProtocols: [], reason: 'not implemented: no evaluation yet' },
  { name: 'zeronet', description: 'ZeroNet', addressProtocols: [], reason: 'not implemented: no evaluation yet' },
  { name: 'zkn', description: 'ZKN', addressProtocols: [], reason: 'not implemented: no evaluation yet' },
  { name: 'anonet', description: 'AnoNet', addressProtocols: [], reason: 'not implemented: no evaluation yet' },
  { name: 'ator', description: 'ATOR (anyone protocol)', addressProtocols: [], reason: 'not implemented: no evaluation yet' }
]

export const plannedBackends: Backend[] = PLANNED.map(p => {
  const availability: BackendAvailability = { status: 'not-implemented', reason: p.reason }
  return {
    name: p.name,
    description: p.description,
    role: 'both',
    addressProtocols: p.addressProtocols,
    anonymity: { sharer: true, connector: true },
    latency: 'high',
    available: async () => availability
  }
})
