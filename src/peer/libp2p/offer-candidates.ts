/**
 * Patch of node-datachannel's RTCPeerConnection (0.33.4, which bundles
 * libdatachannel 0.24) as @libp2p/webrtc 6.0.33 uses it for
 * private-to-private dials. Retire it when node-datachannel ships a
 * libdatachannel that stores the remote fingerprint before ICE can connect
 * and queues DTLS records that arrive before its DTLS transport exists.
 *
 * Why: @libp2p/webrtc's offerer sends its ICE candidates as soon as it has
 * them, so they reach the answerer together with the offer, and the answerer
 * starts its connectivity checks a relay round trip before the offerer has
 * the answer. Two races follow, both seen on loopback through a beam relay:
 * - the answerer's ICE connects first and its DTLS ClientHello reaches an
 *   offerer with no DTLS transport yet: dropped, and the handshake waits
 *   for OpenSSL's first retransmission, one second later (57 of 120 dials
 *   took ~1,020 ms instead of ~20 ms);
 * - the offerer's ICE connects *inside* setRemoteDescription, before
 *   libdatachannel has stored the answer's fingerprint; DTLS then checks the
 *   peer's certificate against nothing ("DTLS alert: unknown CA") and the
 *   connection fails (1 dial in 20–60 on a loaded machine; the dial then
 *   waited for its whole timeout, the CI failure of 2026-12-07).
 *
 * An offerer now holds its ICE candidate events until the answer is set,
 * then sends them: the answerer can start checking only once the offerer
 * knows its fingerprint, and by then the offerer checks the answerer's
 * trickled candidates itself, so its DTLS transport usually exists before
 * a ClientHello arrives. Measured under the same load: no failed dial in 60,
 * 2 of 60 at ~1 s. It costs half a signalling round trip. Nothing changes
 * on the wire: the same messages, in the standard order (offer, answer,
 * candidates), so stock peers are unaffected.
 *
 * Process-wide: every RTCPeerConnection of node-datachannel's polyfill in
 * this process behaves so once it is installed.
 */

const INSTALLED = Symbol.for('beam.offerCandidateHold')

interface PatchablePrototype {
  setRemoteDescription: (description: RTCSessionDescriptionInit) => Promise<void>
  dispatchEvent: (event: Event) => boolean
  readonly signalingState: string
  [INSTALLED]?: true
}

/** ICE candidate events an offerer gathered before it had the answer, per peer connection. */
const held = new WeakMap<object, Event[]>()

/**
 * Makes every offerer of node-datachannel's RTCPeerConnection hold its
 * `icecandidate` events until its remote description (the answer) is set.
 * Idempotent; imports the polyfill (native add-on) on first call.
 */
export async function installOfferCandidateHold (): Promise<void> {
  const { RTCPeerConnection } = await import('node-datachannel/polyfill')
  const proto = RTCPeerConnection.prototype as unknown as PatchablePrototype
  if (proto[INSTALLED] === true) return
  const dispatch = proto.dispatchEvent
  proto.dispatchEvent = function (this: PatchablePrototype, event: Event): boolean {
    if (event.type !== 'icecandidate' || this.signalingState !== 'have-local-offer') return dispatch.call(this, event)
    const list = held.get(this) ?? []
    list.push(event)
    held.set(this, list)
    return true
  }
  const setRemote = proto.setRemoteDescription
  proto.setRemoteDescription = async function (this: PatchablePrototype, description: RTCSessionDescriptionInit): Promise<void> {
    await setRemote.call(this, description)
    const events = held.get(this)
    held.delete(this)
    for (const event of events ?? []) dispatch.call(this, event)
  }
  proto[INSTALLED] = true
}

/** How many candidate events a peer connection holds now (for tests). */
export function heldCandidates (pc: object): number {
  return held.get(pc)?.length ?? 0
}
