/**
 * A Tor-only share must not be linkable to the clearnet share of the same
 * BEAM_HOME: it has its own identity (`identity-tor.json`) and its own access
 * secret (`access-secret-tor`), stable across restarts; `--identity FILE`
 * overrides the identity; a mixed (tor + direct) share, which announces IP
 * addresses anyway, keeps the main identity. Real beam processes on the
 * private Tor network.
 */
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { need, suiteNeeds } from '../../helpers/require-tools.ts'
import { describe, it, expect, inject, afterAll } from 'vitest'
import { decodeConnectString, loadOrCreateIdentity } from '../../../src/peer/index.ts'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { BeamProcess, runBeam, startShare, tempHome } from '../../helpers/beam.ts'
import type { BeamEvent } from '../../helpers/beam.ts'

const tor = inject('torNetwork')
const skip = suiteNeeds('Tor tests', need(tor != null, inject('torSkipReason')))

describe.skipIf(skip)('the identity and access secret of a Tor-only share', () => {
  const homes: Array<{ cleanup: () => Promise<void> }> = []
  afterAll(async () => { for (const h of homes) await h.cleanup() })

  it('differ from the clearnet ones of the same BEAM_HOME, stay the same across restarts, and --identity overrides the identity', async () => {
    if (tor == null) return
    const c = tor.clients[0]
    if (c == null) throw new Error('no Tor client')
    const h = await tempHome()
    homes.push(h)
    const secretOf = (e: BeamEvent): string => Buffer.from(decodeConnectString(String(e.connect)).secret ?? []).toString('hex')

    // the clearnet share of this home (offline, loopback only)
    const clear = await startShare(['3000'], h.dir)
    await clear.proc.stop()
    const mainId = (await runBeam(['id'], { BEAM_HOME: h.dir })).stdout.trim()
    expect(clear.peerId).toBe(mainId)

    const torShare = async (extra: string[] = [], backends = ['--tor']): Promise<BeamEvent> => {
      const p = new BeamProcess(['share', '3000', ...backends, '--tor-control', `127.0.0.1:${c.controlPort}`, ...extra, '--json'], { BEAM_HOME: h.dir })
      try {
        return await p.waitFor('ready', 60_000)
      } finally {
        await p.stop()
      }
    }
    const first = await torShare()
    expect(first.peerId).not.toBe(mainId)
    expect(first).toMatchObject({ identity: join(h.dir, 'identity-tor.json'), identityKind: 'anonymous' })
    expect(secretOf(first)).not.toBe(secretOf(clear.ready))
    expect((await readFile(join(h.dir, 'access-secret-tor'), 'utf8')).trim()).toBe(secretOf(first))
    expect((await stat(join(h.dir, 'access-secret-tor'))).mode & 0o777).toBe(0o600)
    // beam id --tor names the same identity
    expect((await runBeam(['id', '--tor'], { BEAM_HOME: h.dir })).stdout.trim()).toBe(first.peerId)

    const again = await torShare()
    expect(again.peerId).toBe(first.peerId)
    expect(secretOf(again)).toBe(secretOf(first))

    const file = join(h.dir, 'other.json')
    const given = peerIdFromPrivateKey((await loadOrCreateIdentity(file)).privateKey).toString()
    const withFile = await torShare(['--identity', file])
    expect(withFile).toMatchObject({ peerId: given, identity: file, identityKind: 'file' })

    // tor + direct announces IP addresses: the main identity, and said so
    const mixed = await torShare(['--listen', '/ip4/127.0.0.1/tcp/0', '--no-default-bootstrap'], ['--backends', 'tor,direct'])
    expect(mixed).toMatchObject({ peerId: mainId, identity: join(h.dir, 'identity.json'), identityKind: 'main' })
  })
})
