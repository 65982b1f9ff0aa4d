/**
 * Patch of node-datachannel's RTCPeerConnection (0.33.4, libdatachannel
 * without upstream PR #1554) as @libp2p/webrtc 6.0.33 uses it. Retire it when
 * node-datachannel ships a libdatachannel that queues a DTLS record arriving
 * before its DTLS transport exists.
 *
 * Why: in a private-to-private WebRTC dial the answerer learns everything it
 * needs first (the offer and the offerer's candidate are in flight before the
 * answer goes back), so its ICE connects about one relay round trip before
 * the offerer has even set the answer. With the offer's `a=setup:actpass` the
 * answerer takes the DTLS client role and sends its ClientHello at once; the
 * offerer, whose DTLS transport does not exist yet, drops it, and the
 * handshake waits for OpenSSL's first retransmission, one second later (two
 * and four more when that one is lost too). Measured on loopback through a
 * beam relay: 57 of 120 dials took ~1,020 ms instead of ~20 ms.
 *
 * The offer now says `a=setup:active`: the offerer is the DTLS client and
 * speaks only once its own ICE has connected, when the answerer (DTLS server,
 * `a=setup:passive` in its answer) has long been listening. Afterwards: 30 of
 * 30 dials under 70 ms. RFC 8842 asks offerers for `actpass`, but answerers
 * (libdatachannel, Chromium, Firefox, Pion) accept `active` and answer
 * `passive`. node-datachannel's setLocalDescription takes only the type, so
 * the local side resolves its own `actpass` from the answer.
 *
 * Process-wide: every RTCPeerConnection of node-datachannel's polyfill in
 * this process offers `active` once it is installed.
 */

const INSTALLED = Symbol.for('beam.dtlsClientOffer')

interface PatchablePrototype {
  createOffer: (...args: unknown[]) => Promise<RTCSessionDescriptionInit>
  [INSTALLED]?: true
}

/** Rewrites an SDP offer's `a=setup:actpass` lines to `a=setup:active`; other lines stay. */
export function offerAsDtlsClient (sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1')
}

/**
 * Makes every offer of node-datachannel's RTCPeerConnection claim the DTLS
 * client role. Idempotent; imports the polyfill (native add-on) on first call.
 */
export async function installDtlsClientOffer (): Promise<void> {
  const { RTCPeerConnection } = await import('node-datachannel/polyfill')
  const proto = RTCPeerConnection.prototype as unknown as PatchablePrototype
  if (proto[INSTALLED] === true) return
  const original = proto.createOffer
  proto.createOffer = async function (this: unknown, ...args: unknown[]): Promise<RTCSessionDescriptionInit> {
    const offer = await original.apply(this, args)
    return offer.sdp == null ? offer : { type: offer.type, sdp: offerAsDtlsClient(offer.sdp) }
  }
  proto[INSTALLED] = true
}
