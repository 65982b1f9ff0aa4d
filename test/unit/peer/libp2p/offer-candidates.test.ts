/**
 * An offerer holds its ICE candidates until it has the answer
 * (offer-candidates.ts): checked on real node-datachannel peer connections,
 * then with private-to-private WebRTC dials through a relay, which no longer
 * fail (DTLS "unknown CA") or wait a second for a DTLS retransmission in
 * half the cases. Real nodes on 127.0.0.1, in a child process
 * (test/fixtures/webrtc-dials.ts).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { heldCandidates, installOfferCandidateHold } from '../../../../src/peer/libp2p/offer-candidates.ts'

const run = promisify(execFile)

describe('installOfferCandidateHold', () => {
  it('an offerer sends no candidate before the answer, then all of them; an answerer is not held', async () => {
    await installOfferCandidateHold()
    await installOfferCandidateHold() // idempotent: no double wrapping
    const { RTCPeerConnection } = await import('node-datachannel/polyfill')
    const offerer = new RTCPeerConnection({ iceServers: [], bindAddress: '127.0.0.1' } as RTCConfiguration)
    const answerer = new RTCPeerConnection({ iceServers: [], bindAddress: '127.0.0.1' } as RTCConfiguration)
    const sent: string[] = []
    const answererSent: string[] = []
    offerer.onicecandidate = e => { if (e.candidate?.candidate != null && e.candidate.candidate !== '') sent.push(e.candidate.candidate) }
    answerer.onicecandidate = e => { if (e.candidate?.candidate != null && e.candidate.candidate !== '') answererSent.push(e.candidate.candidate) }
    try {
      offerer.createDataChannel('probe')
      const offer = await offerer.createOffer()
      await offerer.setLocalDescription(offer)
      // gathering on loopback is immediate; give the events a moment to arrive
      const deadline = Date.now() + 5000
      while (heldCandidates(offerer) === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      expect(heldCandidates(offerer)).toBeGreaterThan(0)
      expect(sent).toEqual([])
      await answerer.setRemoteDescription(offer)
      const answer = await answerer.createAnswer()
      await answerer.setLocalDescription(answer)
      while (answererSent.length === 0 && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 20))
      expect(answererSent.length).toBeGreaterThan(0) // the answerer's go out at once
      expect(heldCandidates(answerer)).toBe(0)
      await offerer.setRemoteDescription(answer)
      expect(heldCandidates(offerer)).toBe(0)
      expect(sent.length).toBeGreaterThan(0) // released, in order, once the answer is set
      expect(sent[0]).toMatch(/127\.0\.0\.1/)
    } finally {
      offerer.close()
      answerer.close()
    }
  })

  it('WebRTC dials through a relay neither fail nor stall on DTLS', async () => {
    // in a process of its own, as beam runs. Before the patch, on a loaded
    // machine: about half the dials took ~1,020 ms (the DTLS retransmission
    // timer) instead of tens of ms, and 1 in 20-60 failed its DTLS handshake
    // and hung until the dial's timeout. After it: no failure, 2 in 60 slow.
    const fixture = fileURLToPath(new URL('../../../fixtures/webrtc-dials.ts', import.meta.url))
    const { stdout } = await run(process.execPath, [fixture, '20'], { timeout: 150_000 })
    const times = (JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { times: number[] }).times
    console.log(`WebRTC dial times through the relay (ms): ${times.join(', ')}`)
    expect(times).toHaveLength(20)
    expect(times.filter(t => t >= 900).length, `dial times ${times.join(', ')} ms`).toBeLessThanOrEqual(4)
  }, 180_000)
})
