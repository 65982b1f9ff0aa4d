import { describe, it, expect } from 'vitest'
import { ShareLimits, overloadReason } from '../../../../src/peer/share/share-limits.ts'
import {
  DEFAULT_MAX_HANDSHAKE_FAILURES, DEFAULT_MAX_PENDING_HANDSHAKES, DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER,
  DEFAULT_MAX_TUNNELS, DEFAULT_MAX_TUNNELS_PER_PEER, DEFAULT_MAX_TUNNEL_STREAMS
} from '../../../../src/peer/constants.ts'
import { InvalidOptionError, ShareOverloadedError } from '../../../../src/peer/errors.ts'
import { responseError } from '../../../../src/peer/connect/connect.ts'
import { TunnelStatus, decodeResponse, encodeResponse } from '../../../../src/signaling/index.ts'
import { classify, ExitCode } from '../../../../src/cli/exit-codes.ts'

describe('ShareLimits', () => {
  it('holds handshakes in progress to the per-peer cap and to the total, and gives slots back', () => {
    const l = new ShareLimits({ maxPendingHandshakesPerPeer: 2, maxPendingHandshakes: 3 })
    expect([l.beginHandshake('a'), l.beginHandshake('a'), l.beginHandshake('a')]).toEqual([true, true, false])
    expect(l.beginHandshake('b')).toBe(true)
    // the total (3) is reached: a peer under its own cap is turned away too
    expect(l.beginHandshake('c')).toBe(false)
    expect(l.pendingHandshakes).toBe(3)
    l.endHandshake('a')
    expect(l.beginHandshake('c')).toBe(true)
    // giving back what was never taken changes nothing
    l.endHandshake('nobody')
    expect(l.pendingHandshakes).toBe(3)
  })

  it('holds tunnels to the per-peer cap and to the total; a check takes nothing', () => {
    const l = new ShareLimits({ maxTunnelsPerPeer: 2, maxTunnels: 3 })
    expect(l.openTunnel('a')).toBeUndefined()
    expect(l.openTunnel('a')).toBeUndefined()
    expect(l.openTunnel('a')).toEqual({ scope: 'peer', limit: 2 })
    expect(l.checkTunnel('b')).toBeUndefined()
    expect(l.openTunnel('b')).toBeUndefined()
    expect(l.checkTunnel('c')).toEqual({ scope: 'total', limit: 3 })
    expect(l.openTunnel('c')).toEqual({ scope: 'total', limit: 3 })
    expect(l.tunnels).toBe(3)
    l.closeTunnel('a')
    l.closeTunnel('nobody')
    expect(l.tunnels).toBe(2)
    expect(l.openTunnel('c')).toBeUndefined()
  })

  it('says when a connection has had its last failed handshake, counting each connection on its own', () => {
    const l = new ShareLimits({ maxHandshakeFailures: 3 })
    const one = {}
    const two = {}
    expect([l.handshakeFailed(one), l.handshakeFailed(one), l.handshakeFailed(two), l.handshakeFailed(one)]).toEqual([false, false, false, true])
  })

  it('has defaults a real user does not reach, below the per-connection stream limit', () => {
    const l = new ShareLimits()
    expect(l.maxPendingHandshakesPerPeer).toBe(DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER)
    expect(l.maxPendingHandshakes).toBe(DEFAULT_MAX_PENDING_HANDSHAKES)
    expect(l.maxTunnelsPerPeer).toBe(DEFAULT_MAX_TUNNELS_PER_PEER)
    expect(l.maxTunnels).toBe(DEFAULT_MAX_TUNNELS)
    expect(l.maxHandshakeFailures).toBe(DEFAULT_MAX_HANDSHAKE_FAILURES)
    // the benchmark target: 1,000 concurrent connections through one tunnel
    expect(DEFAULT_MAX_TUNNELS_PER_PEER).toBeGreaterThan(1000)
    expect(DEFAULT_MAX_TUNNELS_PER_PEER).toBeLessThanOrEqual(DEFAULT_MAX_TUNNEL_STREAMS)
    expect(DEFAULT_MAX_PENDING_HANDSHAKES_PER_PEER).toBeLessThan(DEFAULT_MAX_PENDING_HANDSHAKES)
  })

  it.each([0, -1, 1.5, Number.NaN])('rejects a cap of %s', (v) => {
    expect(() => new ShareLimits({ maxTunnels: v })).toThrow(InvalidOptionError)
    expect(() => new ShareLimits({ maxPendingHandshakesPerPeer: v })).toThrow(/maxPendingHandshakesPerPeer must be a whole number of at least 1/)
  })
})

describe('OVERLOADED', () => {
  it('travels in a response and becomes ShareOverloadedError, which the CLI exits 14 with', () => {
    const reason = overloadReason({ scope: 'peer', limit: 2048 })
    const res = decodeResponse(encodeResponse({ status: TunnelStatus.OVERLOADED, reason }))
    const err = responseError(res)
    expect(err).toBeInstanceOf(ShareOverloadedError)
    expect(err.name).toBe('ShareOverloadedError')
    expect(err.message).toBe('the share is overloaded: too many tunnels from this peer (at most 2048 at once); try again when some have closed')
    expect(classify(err)).toEqual({ exit: ExitCode.OVERLOADED, code: 'overloaded' })
    expect(ExitCode.OVERLOADED).toBe(14)
  })
})
