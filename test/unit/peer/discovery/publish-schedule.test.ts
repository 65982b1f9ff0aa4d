/**
 * When a share announces itself in the DHT (src/peer/discovery/publish-schedule.ts):
 * at the public network's interval when nothing changes (22 h for records
 * that live 48 h: kubo and libp2p/specs#451), soon after an address change
 * but not more often than the minimum gap, fast only after failures.
 */
import { describe, expect, it } from 'vitest'
import { MIN_REPUBLISH_GAP, PUBLISH_SETTLE_DELAY, addressSet, addressesDiffer, nextPublishDelay, publishRetryDelay } from '../../../../src/peer/discovery/publish-schedule.ts'
import { PROVIDER_RECORD_VALIDITY, REPUBLISH_INTERVAL } from '../../../../src/peer/constants.ts'

const HOUR = 60 * 60_000
const T = 1_000_000_000

describe('the intervals', () => {
  it('are the public network\'s: records live 48 h, a share re-announces every 22 h, under half of that', () => {
    expect(PROVIDER_RECORD_VALIDITY).toBe(48 * HOUR)
    expect(REPUBLISH_INTERVAL).toBe(22 * HOUR)
    expect(REPUBLISH_INTERVAL * 2).toBeLessThan(PROVIDER_RECORD_VALIDITY)
  })
})

describe('nextPublishDelay', () => {
  it('announces at once when the node never has', () => {
    expect(nextPublishDelay({ failures: 0 }, T)).toBe(0)
  })

  it('after an announcement, waits 22 h when nothing changes, never 30 min', () => {
    const s = { failures: 0, lastOk: T }
    expect(nextPublishDelay(s, T + 1000)).toBe(REPUBLISH_INTERVAL - 1000)
    expect(nextPublishDelay(s, T + 30 * 60_000)).toBeGreaterThan(21 * HOUR)
    expect(nextPublishDelay(s, T + 22 * HOUR)).toBe(0)
  })

  it('after an address change: once the addresses have settled, not sooner than the minimum gap after the last announcement', () => {
    // a change long after the last announcement: 2 s of quiet
    expect(nextPublishDelay({ failures: 0, lastOk: T, changedAt: T + HOUR }, T + HOUR)).toBe(PUBLISH_SETTLE_DELAY)
    // a change right after it: the gap holds it back
    expect(nextPublishDelay({ failures: 0, lastOk: T, changedAt: T + 1000 }, T + 1000)).toBe(MIN_REPUBLISH_GAP - 1000)
    // a flapping relay reservation: at most one announcement per gap
    expect(nextPublishDelay({ failures: 0, lastOk: T, changedAt: T + 5000 }, T + 5000, { minGap: 60_000 })).toBe(55_000)
  })

  it('retries fast only after failures, with the backoff (an address change does not hurry it)', () => {
    expect(nextPublishDelay({ failures: 1, lastFailure: T }, T)).toBe(publishRetryDelay(1))
    expect(nextPublishDelay({ failures: 3, lastFailure: T, lastOk: T - HOUR }, T)).toBe(publishRetryDelay(3))
    expect(nextPublishDelay({ failures: 2, lastFailure: T, changedAt: T }, T + 1000)).toBe(publishRetryDelay(2) - 1000)
    expect(nextPublishDelay({ failures: 9, lastFailure: T }, T + 10 * HOUR)).toBe(0)
  })

  it('takes its intervals from the options', () => {
    expect(nextPublishDelay({ failures: 0, lastOk: T }, T, { republish: 5000 })).toBe(5000)
    expect(nextPublishDelay({ failures: 0, lastOk: T, changedAt: T + HOUR }, T + HOUR, { settle: 10 })).toBe(10)
  })
})

describe('addressesDiffer', () => {
  const peer = (...addrs: string[]): Set<string> => addressSet({ addresses: addrs.map(a => ({ multiaddr: { toString: () => a } })) })

  it('is false when only protocols or metadata changed (the same addresses, in any order)', () => {
    expect(addressesDiffer(peer('/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.4/udp/1/quic-v1'), peer('/ip4/1.2.3.4/udp/1/quic-v1', '/ip4/1.2.3.4/tcp/1'))).toBe(false)
  })

  it('is true when an address came or went', () => {
    expect(addressesDiffer(peer('/ip4/1.2.3.4/tcp/1', '/ip4/5.6.7.8/tcp/4001/p2p/QmRelay/p2p-circuit'), peer('/ip4/1.2.3.4/tcp/1'))).toBe(true)
    expect(addressesDiffer(peer('/ip4/1.2.3.4/tcp/1'), peer('/ip4/1.2.3.4/tcp/2'))).toBe(true)
    expect(addressesDiffer(peer(), peer('/ip4/1.2.3.4/tcp/1'))).toBe(true)
    expect(addressSet(undefined).size).toBe(0)
  })
})
