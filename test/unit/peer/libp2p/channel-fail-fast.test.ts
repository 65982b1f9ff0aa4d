/**
 * A data channel whose WebRTC connection fails before it opens gets an
 * `error` event (channel-fail-fast.ts), so @libp2p/webrtc's dial, waiting
 * for its init channel, fails at once instead of at its timeout. Two real
 * node-datachannel peer connections on 127.0.0.1, the answer's DTLS
 * fingerprint replaced: DTLS fails, as it did over a punched UDP pair. A
 * listener added after the failure hears of it too.
 */
import { describe, expect, it } from 'vitest'
import { channelFailedMessage, installChannelFailFast } from '../../../../src/peer/libp2p/channel-fail-fast.ts'

const WRONG_FINGERPRINT = `a=fingerprint:sha-256 ${Array.from({ length: 32 }, () => 'AB').join(':')}`

describe('installChannelFailFast', () => {
  it('a channel still connecting when DTLS fails gets an error event within seconds', async () => {
    await installChannelFailFast()
    await installChannelFailFast() // idempotent: one listener per channel
    const { RTCPeerConnection } = await import('node-datachannel/polyfill')
    const config = { iceServers: [], bindAddress: '127.0.0.1' } as unknown as RTCConfiguration
    const offerer = new RTCPeerConnection(config)
    const answerer = new RTCPeerConnection(config)
    try {
      offerer.onicecandidate = ({ candidate }) => { if (candidate != null) void answerer.addIceCandidate(candidate).catch(() => {}) }
      answerer.onicecandidate = ({ candidate }) => { if (candidate != null) void offerer.addIceCandidate(candidate).catch(() => {}) }
      const channel = offerer.createDataChannel('init')
      const errors: Array<{ error?: Error }> = []
      channel.addEventListener('error', e => { errors.push(e as unknown as { error?: Error }) })
      const outcome = new Promise<string>(resolve => {
        channel.addEventListener('open', () => { resolve('open') })
        channel.addEventListener('error', () => { resolve('error') })
        setTimeout(() => { resolve(`neither within 8 s (connection ${offerer.connectionState})`) }, 8000).unref()
      })
      const offer = await offerer.createOffer()
      await offerer.setLocalDescription(offer)
      await answerer.setRemoteDescription(offer)
      const answer = await answerer.createAnswer()
      await answerer.setLocalDescription(answer)
      // the offerer checks the answerer's certificate against a fingerprint that is not its own
      await offerer.setRemoteDescription({ type: 'answer', sdp: (answer.sdp ?? '').replace(/^a=fingerprint:.*$/m, WRONG_FINGERPRINT) })
      const t0 = performance.now()
      expect(await outcome).toBe('error')
      expect(performance.now() - t0).toBeLessThan(5000)
      expect(errors).toHaveLength(1)
      expect(errors[0]?.error?.message).toMatch(/^the WebRTC connection became "(failed|closed)"/)
      expect(channelFailedMessage('failed')).toContain('"failed"')
      // as @libp2p/webrtc's dialer does: it starts waiting for 'open' (or 'error') only after
      // reading ICE candidates, when the failure may have passed; it hears of it all the same
      const late = await new Promise<string>(resolve => {
        channel.addEventListener('open', () => { resolve('open') })
        channel.addEventListener('error', e => { resolve(`error: ${String((e as unknown as { error?: Error }).error?.message)}`) })
        setTimeout(() => { resolve('nothing within 3 s') }, 3000).unref()
      })
      expect(late).toMatch(/^error: the WebRTC connection became/)
    } finally {
      offerer.close()
      answerer.close()
    }
  }, 20_000)
})
