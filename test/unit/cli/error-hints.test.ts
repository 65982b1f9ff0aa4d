/**
 * Library errors state facts and carry fields; the CLI adds the flag hint
 * (src/cli/exit-codes.ts, errorLine) so that the printed line reads as it did.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { availabilityLine, classify, errorLine, ExitCode } from '../../../src/cli/exit-codes.ts'
import { IdentityError, LimitedRelayOnlyError, loadOrCreateAccessSecret, PeerNotFoundError } from '../../../src/peer/index.ts'
import { atorBackend, torBackend, TorAuthError } from '../../../src/backends/index.ts'

const FLAG = /--[a-z]/

describe('error hints', () => {
  it('a corrupt access secret: the library names the file, the CLI adds --rotate-secret', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-hint-'))
    try {
      const file = join(dir, 'secret')
      await writeFile(file, 'not hex\n')
      const err = await loadOrCreateAccessSecret(file).catch((e: unknown) => e) as Error
      expect(err).toBeInstanceOf(IdentityError)
      expect(err).toMatchObject({ name: 'IdentityError', kind: 'access-secret' })
      expect(err.message).not.toMatch(FLAG)
      expect(errorLine(err)).toBe(`access secret file ${file} is corrupt (expected 64 hex digits); delete it or pass --rotate-secret`)
      expect(classify(err)).toEqual({ exit: ExitCode.IDENTITY, code: 'identity' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('no bootstrap node and a Tor control port that wants a password: hints only where the field says so', () => {
    const noBoot = new PeerNotFoundError('p', 'no address known for peer p, and no bootstrap node to look it up with', { noBootstrap: true })
    expect(errorLine(noBoot)).toBe('no address known for peer p, and no bootstrap node to look it up with; bootstrap-nodes.json is empty and no --bootstrap was given')
    expect(errorLine(new PeerNotFoundError('p'))).toBe('no address known for peer p: use the connect string that \'beam share\' printed')
    expect(errorLine(new TorAuthError('the Tor control port needs a password', { passwordHelps: true }))).toBe('the Tor control port needs a password; pass --tor-password (--ator-password for ATOR)')
    expect(errorLine(new TorAuthError('wrong password'))).toBe('wrong password')
    expect(errorLine('plain')).toBe('plain')
  })

  it('a backend that is not ready says why in its own words; the CLI adds the flag that fixes it', async () => {
    // nothing listens on port 1 of loopback, and no such binaries exist
    const tor = await torBackend({ controlPort: 1, torBinaries: ['/nonexistent/tor'] }).available()
    expect(tor.reason).not.toMatch(FLAG)
    const notRunning = await torBackend({ controlPort: 1, torBinaries: [process.execPath] }).available()
    expect(notRunning).toMatchObject({ status: 'not-running', fix: 'launch' })
    expect(notRunning.reason).not.toMatch(FLAG)
    expect(availabilityLine('tor', notRunning)).toMatch(/\(or pass --tor-launch\)$/)
    const anon = await atorBackend({ controlPort: 1, anonBinaries: ['/nonexistent/anon'] }).available()
    expect(anon).toMatchObject({ status: 'not-installed', fix: 'binary' })
    expect(anon.reason).not.toMatch(FLAG)
    expect(availabilityLine('ator', anon)).toMatch(/\(or pass --anon-binary PATH\)$/)
    expect(availabilityLine('tor', { status: 'ready', reason: 'tor 0.4.9' })).toBe('tor 0.4.9')
  })

  it('only a limited relay reaches the peer: exit 9, one line saying what happened and what would fix it', () => {
    const relay = '/ip4/192.0.2.1/tcp/4001/p2p/R/p2p-circuit/p2p/P'
    const waited = new LimitedRelayOnlyError('P', { relay, limits: { bytes: 131072, seconds: 120 }, waitedMs: 30_000, why: 'WebRTC failed: ICE timed out' })
    expect(waited.message).not.toMatch(FLAG)
    expect(classify(waited)).toEqual({ exit: ExitCode.PEER_UNREACHABLE, code: 'limited-relay' })
    expect(errorLine(waited)).toBe('cannot reach peer P: its only connection is through a relay that limits connections (128 KiB, 2 min), which carries signalling but no tunnel; ' +
      'no direct path came within 30 s (WebRTC failed: ICE timed out); have the share hold a reservation on a relay without limits (beam share --bootstrap <a beam relay>), or give this side a TURN server (--ice-server turn:USER:PASS@HOST:PORT)')
    const off = new LimitedRelayOnlyError('P', { relay, limits: { bytes: 131072, seconds: 120 }, waitedMs: 5, why: 'WebRTC is off on this node, so no direct path can be made', webrtcOff: true })
    expect(errorLine(off)).toMatch(/no tunnel; WebRTC is off on this node, so no direct path can be made; drop --no-webrtc, or /)
    expect(errorLine(off).split('\n')).toHaveLength(1)
  })
})
