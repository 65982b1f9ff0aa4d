/**
 * `beam id` with the network flags prints the identity `beam share` uses with
 * the same networks: an anonymous-only set (only Tor, ATOR, I2P) has its own
 * key file, `identity-<names sorted, joined by +>.json`, never the clearnet
 * `identity.json`; a set with `direct` uses the main one; --identity and
 * --ephemeral override. (The shares themselves: test/backends/tor/anonymous-identity.)
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { runCli } from '../../../../src/cli/program.ts'
import { ExitCode } from '../../../../src/cli/exit-codes.ts'
import { guardEnv } from '../../../helpers/guard.ts'

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function home (): string {
  const d = mkdtempSync(join(tmpdir(), 'beam-anon-id-'))
  dirs.push(d)
  return d
}

interface IdEvent { event: string, peerId: string, identity: string | null, identityKind: string }

async function id (h: string, args: string[]): Promise<{ code: number, ev: IdEvent | undefined, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(['id', '--json', ...args], {
    stdout: { write: (s: string) => { stdout += s; return true } },
    stderr: { write: (s: string) => { stderr += s; return true } },
    env: { ...guardEnv(), BEAM_HOME: h },
    signal: AbortSignal.timeout(20_000),
    stderrIsTTY: false
  })
  const ev = stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as IdEvent).find(e => e.event === 'id')
  return { code, ev, stderr }
}

describe('beam id and the identity of anonymous-only networks', () => {
  it('a Tor-only identity of its own, stable, in identity-tor.json; a set with direct keeps the main one', async () => {
    const h = home()
    const main = await id(h, [])
    expect(main.code).toBe(0)
    expect(main.ev).toMatchObject({ identity: join(h, 'identity.json'), identityKind: 'main' })
    const tor = await id(h, ['--tor'])
    expect(tor.code).toBe(0)
    expect(tor.ev).toMatchObject({ identity: join(h, 'identity-tor.json'), identityKind: 'anonymous' })
    expect(tor.ev?.peerId).not.toBe(main.ev?.peerId)
    expect(statSync(join(h, 'identity-tor.json')).mode & 0o777).toBe(0o600)
    // stable across runs, and the same for --backend tor
    expect((await id(h, ['--tor'])).ev?.peerId).toBe(tor.ev?.peerId)
    expect((await id(h, ['--backend', 'tor'])).ev?.peerId).toBe(tor.ev?.peerId)
    // every network has its own; a set is named by its sorted names
    const i2p = await id(h, ['--i2p'])
    const ator = await id(h, ['--ator'])
    const both = await id(h, ['--backends', 'tor,i2p'])
    expect(both.ev?.identity).toBe(join(h, 'identity-i2p+tor.json'))
    expect((await id(h, ['--backends', 'i2p,tor'])).ev?.peerId).toBe(both.ev?.peerId)
    expect(new Set([main, tor, i2p, ator, both].map(r => r.ev?.peerId)).size).toBe(5)
    // mixed sets announce IP addresses anyway: the main identity
    const mixed = await id(h, ['--backends', 'tor,direct'])
    expect(mixed.ev).toMatchObject({ peerId: main.ev?.peerId, identityKind: 'main' })
  })

  it('--identity and --ephemeral override the Tor-only identity; bad network flags are usage errors', async () => {
    const h = home()
    const file = join(h, 'mine.json')
    const given = await id(h, ['--identity', file])
    const torGiven = await id(h, ['--tor', '--identity', file])
    expect(torGiven.ev).toMatchObject({ peerId: given.ev?.peerId, identity: file, identityKind: 'file' })
    const eph = await id(h, ['--tor', '--ephemeral'])
    expect(eph.ev).toMatchObject({ identity: null, identityKind: 'ephemeral' })
    expect((await id(h, ['--tor', '--i2p'])).code).toBe(ExitCode.USAGE)
    expect((await id(h, ['--backend', 'nosuchnet'])).code).toBe(ExitCode.USAGE)
    expect((await id(h, ['--backends', 'tor,tor'])).code).toBe(ExitCode.USAGE)
  })
})
