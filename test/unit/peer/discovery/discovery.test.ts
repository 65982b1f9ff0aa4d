/**
 * The peer-id prefix of a name (`myapp.<prefix>`): 24 characters now (~93
 * bits, beyond grinding); the old 16–23-character form is still looked up but
 * resolves only to a single matching provider, with a warning; two matching
 * providers are refused, never one of them chosen. Grinding two real ids that
 * share 16 characters is infeasible, so the selection is tested with real
 * peer ids that share 11 characters by construction (a birthday search over a
 * few hundred keys) and the same rules scaled down (current form 13, old 11).
 */
import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import {
  AmbiguousNameError, LEGACY_MIN_PREFIX, MIN_PREFIX, NamePrefixError, checkNamePrefix, parseNameTarget, selectNameProvider
} from '../../../../src/peer/index.ts'
import type { NameProvider } from '../../../../src/peer/index.ts'
import { BeamProcess, runBeam, tempHome } from '../../../helpers/beam.ts'

const newId = async (): Promise<PeerId> => peerIdFromPrivateKey(await generateKeyPair('Ed25519'))

/** Two real peer ids whose first `n` characters are equal and whose next two are not both equal. */
async function collidingPair (n: number): Promise<[PeerId, PeerId]> {
  const seen = new Map<string, PeerId>()
  for (let i = 0; i < 50_000; i++) {
    const id = await newId()
    const other = seen.get(id.toString().slice(0, n))
    if (other != null && other.toString().slice(0, n + 2) !== id.toString().slice(0, n + 2)) return [other, id]
    seen.set(id.toString().slice(0, n), id)
  }
  throw new Error(`no pair sharing ${n} characters in 50000 keys`)
}

const provider = (peerId: PeerId, port = 4001): NameProvider => ({ peerId, multiaddrs: [multiaddr(`/ip4/127.0.0.1/tcp/${port}`)] })
const target = (prefix: string): { name: string, prefix: string } => ({ name: 'myapp', prefix })

describe('name prefixes', () => {
  it('the current form needs at least 24 characters; 16–23 is the old form; shorter is refused', async () => {
    expect(MIN_PREFIX).toBeGreaterThanOrEqual(24)
    expect(LEGACY_MIN_PREFIX).toBe(16)
    const id = (await newId()).toString()
    expect(checkNamePrefix(target(id.slice(0, 24)))).toBe('ok')
    expect(checkNamePrefix(target(id))).toBe('ok')
    for (const n of [16, 20, 23]) expect(checkNamePrefix(target(id.slice(0, n)))).toBe('legacy')
    expect(() => checkNamePrefix(target(id.slice(0, 15)))).toThrow(NamePrefixError)
    expect(() => checkNamePrefix(target(id.slice(0, 15)))).toThrow(/at least 24 characters/)
  })

  it('with beam\'s rules: a 24-character prefix resolves plainly, a 16-character one as legacy, to the single match', async () => {
    const a = await newId()
    const others = [provider(await newId(), 1), provider(await newId(), 2)]
    const plain = selectNameProvider(target(a.toString().slice(0, 24)), [...others, provider(a)])
    expect(plain.peerId.equals(a)).toBe(true)
    expect(plain.legacy).toBe(false)
    const old = selectNameProvider(target(a.toString().slice(0, 16)), [provider(a), ...others])
    expect(old.peerId.equals(a)).toBe(true)
    expect(old.legacy).toBe(true)
    expect(() => selectNameProvider(target(a.toString().slice(0, 24)), others)).toThrow(/no share named 'myapp'/)
  })

  describe('with prefixes that collide by construction (current form 13, old form 11)', () => {
    const rules = { minPrefix: 13, legacyMinPrefix: 11 }

    it('the old form with two matching providers is refused, naming the count and the longer form', async () => {
      const [a, b] = await collidingPair(11)
      const t = target(a.toString().slice(0, 11))
      let err: unknown
      try { selectNameProvider(t, [provider(a), provider(b)], rules) } catch (e) { err = e }
      expect(err).toBeInstanceOf(AmbiguousNameError)
      expect((err as AmbiguousNameError).matches).toBe(2)
      expect((err as Error).message).toMatch(/is ambiguous: 2 peers .* use the 13-character form \(or the peer id\)/)
      // whichever order the DHT answers in
      expect(() => selectNameProvider(t, [provider(b), provider(a)], rules)).toThrow(AmbiguousNameError)
    })

    it('the old form with one matching provider resolves to it, marked legacy', async () => {
      const [a, b] = await collidingPair(11)
      const unrelated = provider(await newId(), 9)
      const one = selectNameProvider(target(a.toString().slice(0, 11)), [unrelated, provider(a)], rules)
      expect(one.peerId.equals(a)).toBe(true)
      expect(one.legacy).toBe(true)
      // the current form tells the two colliding ids apart
      const full = selectNameProvider(target(b.toString().slice(0, 13)), [provider(a), provider(b), unrelated], rules)
      expect(full.peerId.equals(b)).toBe(true)
      expect(full.legacy).toBe(false)
    })

    it('the current form with two matching providers is refused too; one provider with two records is one match', async () => {
      const [a, b] = await collidingPair(11)
      const common = a.toString().slice(0, 11)
      // a prefix of the current length that both share does not exist here, so share 11 and test ambiguity at min 11
      expect(() => selectNameProvider(target(common), [provider(a), provider(b)], { minPrefix: 11, legacyMinPrefix: 11 })).toThrow(/use a longer prefix or the peer id/)
      const merged = selectNameProvider(target(a.toString().slice(0, 13)), [provider(a, 1), provider(a, 2)], rules)
      expect(merged.multiaddrs.map(m => m.toString())).toEqual(['/ip4/127.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2'])
      expect(() => selectNameProvider(target(a.toString().slice(0, 10)), [provider(a)], rules)).toThrow(NamePrefixError)
    })
  })
})

describe('the CLI', () => {
  it('beam share --name prints the 24-character form', async () => {
    const home = await tempHome()
    const share = new BeamProcess(['share', '1', '--name', 'myapp', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-default-bootstrap', '--log-level', 'warn'], { BEAM_HOME: home.dir })
    try {
      const deadline = Date.now() + 30_000
      while (!/ {2}name: {6}myapp\.\S+/.test(share.stderr) && Date.now() < deadline && share.child.exitCode == null) await new Promise(resolve => setTimeout(resolve, 100))
      const printed = / {2}name: {6}(myapp\.\S+)/.exec(share.stderr)?.[1]
      const peerId = / {2}peer id: {3}(\S+)/.exec(share.stderr)?.[1] ?? ''
      expect(printed, share.stderr).toBe(`myapp.${peerId.slice(0, 24)}`)
      expect(parseNameTarget(printed ?? '')?.prefix).toHaveLength(24)
    } finally {
      await share.stop()
      await home.cleanup()
    }
  }, 60_000)

  it('beam connect refuses a 15-character prefix (exit 4) and looks up a 16-character one', async () => {
    const home = await tempHome()
    try {
      const id = (await newId()).toString()
      const short = await runBeam(['connect', `myapp.${id.slice(0, 15)}`, '--no-default-bootstrap'], { BEAM_HOME: home.dir })
      expect(short.code, short.stderr).toBe(4)
      expect(short.stderr).toMatch(/beam: 'myapp\.\w+': the peer id part of a name must be at least 24 characters/)
      // the old form passes the length check and goes to the DHT (off here: not found, exit 8)
      const old = await runBeam(['connect', `myapp.${id.slice(0, 16)}`, '--no-default-bootstrap', '--no-dht'], { BEAM_HOME: home.dir })
      expect(old.code, old.stderr).toBe(8)
      expect(old.stderr).toMatch(/the DHT is off/)
    } finally {
      await home.cleanup()
    }
  }, 60_000)
})
