import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { ANON_INSTALL_HINT, ANON_LISTEN_PROTOCOL, ANON_PROTOCOL, atorBackend, defaultBackends, parseOnion3, parseOnionAddress, torBackend } from '../../../src/backends/index.ts'
import { anonCandidates } from '../../../src/cli/backend-flags.ts'
import { backendSetup, resolveBackends } from '../../../src/cli/settings/index.ts'
import { decodeConnectString, encodeConnectString } from '../../../src/peer/index.ts'
import { transportOf } from '../../../src/peer/connect/path.ts'
import { peerIdFromString } from '@libp2p/peer-id'

const ID = 'kkghonzwnpbdjddyiil6xbthltyyitcwluuqbx5e2ob5f7m3j554fkid'

describe('ATOR addresses', () => {
  it('/anon3/<id>:<port> is its own protocol: parsed for ATOR, not taken for a Tor onion', () => {
    const ma = multiaddr(`/anon3/${ID}:4001`)
    expect(ma.toString()).toBe(`/anon3/${ID}:4001`)
    expect(multiaddr(ma.bytes).toString()).toBe(ma.toString())
    expect(parseOnionAddress(ma, ANON_PROTOCOL)).toEqual({ serviceId: ID, port: 4001 })
    expect(parseOnion3(ma)).toBeUndefined()
    expect(parseOnionAddress(multiaddr(`/onion3/${ID}:4001`), ANON_PROTOCOL)).toBeUndefined()
    expect(transportOf(ma)).toBe('ator')
    expect(() => multiaddr('/anon3/not-an-onion:4001')).toThrow(/56 base32/)
    expect(() => multiaddr(`/${ANON_LISTEN_PROTOCOL}/70000`)).toThrow(/not a port/)
  })

  it('rides in a connect string', () => {
    const peerId = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')
    const text = encodeConnectString({ peerId, multiaddrs: [multiaddr(`/anon3/${ID}:4001`)] })
    expect(decodeConnectString(text).multiaddrs.map(m => m.toString())).toEqual([`/anon3/${ID}:4001`])
  })
})

describe('atorBackend', () => {
  it('declares its protocols and listen address, next to tor in the default registry', () => {
    const b = atorBackend({ virtualPort: 4100 })
    expect(b.name).toBe('ator')
    expect(b.addressProtocols).toEqual(['anon3'])
    expect(b.listenAddrs?.()).toEqual(['/anon3-listen/4100'])
    expect(torBackend().addressProtocols).toEqual(['onion3'])
    const names = defaultBackends().list().map(x => x.name)
    expect(names.filter(n => n === 'ator')).toHaveLength(1)
  })

  it('is not-installed, with the install hint, when no anon binary and no control port exist', async () => {
    const b = atorBackend({ anonBinaries: ['/nonexistent/anon'], controlPort: 1 })
    const a = await b.available()
    expect(a.status).toBe('not-installed')
    expect(a.reason).toContain(ANON_INSTALL_HINT)
    const launching = atorBackend({ anonBinaries: ['/nonexistent/anon'], launch: { dataDir: '/nonexistent' } })
    expect(await launching.available()).toEqual({ status: 'not-installed', reason: `no anon binary found; ${ANON_INSTALL_HINT}`, fix: 'binary' })
  })
})

describe('CLI: --ator flags', () => {
  const home = '/nonexistent-home'
  it('selects ator alone with --ator, and refuses contradictions', async () => {
    const sel = await resolveBackends({ ator: true }, home, 1, {})
    expect(sel.names).toEqual(['ator'])
    expect(sel.anonymousOnly).toBe(true)
    await expect(resolveBackends({ ator: true, tor: true }, home, 1, {})).rejects.toThrow(/one of --backend, --backends, --tor, --ator and --i2p/)
    await expect(resolveBackends({ tor: true, atorControl: '9051' }, home, 1, {})).rejects.toThrow(/--ator-\* options need the ator backend/)
    await expect(resolveBackends({ ator: true, atorLaunchConfig: 'x' }, home, 1, {})).rejects.toThrow(/--ator-launch-config needs --ator-launch/)
    await expect(resolveBackends({ ator: true, atorLaunch: true, atorSocks: '9050' }, home, 1, {})).rejects.toThrow(/--ator-launch starts its own anon/)
    await expect(resolveBackends({ ator: true, atorControl: 'localhost:9051' }, home, 1, {})).rejects.toThrow(/not a name/)
    const both = await resolveBackends({ backends: 'ator,tor', fallback: true, atorSocks: '127.0.0.1:9150', torSocks: '9050' }, home, 1, {})
    expect(both.names).toEqual(['ator', 'tor'])
  })

  it('looks for anon on PATH, in the usual prefixes and in install-ator.sh\'s folder; --anon-binary alone when given', () => {
    const c = anonCandidates(undefined, { PATH: '/a/bin:/b/bin', HOME: '/home/u' })
    expect(c.slice(0, 2)).toEqual(['/a/bin/anon', '/b/bin/anon'])
    expect(c).toContain('/usr/local/bin/anon')
    expect(c.at(-1)).toBe(join('/home/u', '.cache', 'beam', 'ator-1.1.3', 'anon'))
    expect(anonCandidates(undefined, { XDG_CACHE_HOME: '/xdg' }).at(-1)).toBe('/xdg/beam/ator-1.1.3/anon')
    expect(anonCandidates('/opt/anon', { PATH: '/a/bin' })).toEqual(['/opt/anon'])
  })
})

describe('beam.config.yaml: the ator entry', () => {
  it('parses the anon settings, refuses the Tor-only ones, and fills the ATOR settings where the command line is silent', async () => {
    const { parseConfig } = await import('../../../src/cli/config/index.ts')
    const yaml = 'backends:\n  ator:\n    priority: 1\n    control: 9151\n    socks: 127.0.0.1:9150\n    persistent: true\n    anonBinary: /opt/anon/anon\n  direct:\n    priority: 2\n'
    const cfg = parseConfig(yaml, 'beam.config.yaml')
    expect(cfg.backends.ator).toMatchObject({ control: { host: '127.0.0.1', port: 9151 }, socks: { host: '127.0.0.1', port: 9150 }, persistent: true, anonBinary: '/opt/anon/anon' })
    const setup = await backendSetup({}, { file: cfg.backends, role: 'share' })
    expect(setup).toMatchObject({ names: ['ator', 'direct'], ator: { control: { host: '127.0.0.1', port: 9151 }, socks: { host: '127.0.0.1', port: 9150 }, persistent: true, anonBinary: '/opt/anon/anon' } })
    // persistent is a share's setting only
    expect((await backendSetup({}, { file: cfg.backends })).ator.persistent).toBe(false)
    // the command line wins, and --ator is a choice of its own
    expect(await backendSetup({ ator: true, atorControl: '9999' }, { file: cfg.backends })).toMatchObject({ names: ['ator'], ator: { control: { host: '127.0.0.1', port: 9999 } } })
    expect(() => parseConfig('backends:\n  ator:\n    onionPort: 4002\n', 'beam.config.yaml')).toThrow(/onionPort/)
  })
})
