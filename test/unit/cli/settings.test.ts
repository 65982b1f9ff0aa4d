// The one-way settings flow (src/cli/settings/): flags, environment and
// beam.config.yaml merge into typed settings with the precedence of
// docs/configuration.md, and BeamInit is built once from them.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { parseConfig } from '../../../src/cli/config/index.ts'
import { createContext } from '../../../src/cli/context.ts'
import type { CliIo } from '../../../src/cli/context.ts'
import { backendSetup, chooseIceServers, connectSettings, iceServersOf, nodeSettings, shareSettings, toBeamInit } from '../../../src/cli/settings/index.ts'
import { writeFileSync } from 'node:fs'
import { PUBLIC_STUN_SERVERS, DEFAULT_BOOTSTRAP_FILE } from '../../../src/peer/index.ts'

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function dir (): string {
  const d = mkdtempSync(join(tmpdir(), 'beam-settings-'))
  dirs.push(d)
  return d
}

function io (env: NodeJS.ProcessEnv = {}): CliIo {
  const sink = new PassThrough()
  return { env: { BEAM_HOME: dir(), ...env }, signal: new AbortController().signal, stderrIsTTY: false, stdout: sink, stderr: sink }
}
const log = createContext({ logLevel: 'silent' }, io()).log

async function peer (port: number): Promise<string> {
  return `/ip4/127.0.0.1/tcp/${port}/p2p/${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}`
}

describe('node settings: precedence', () => {
  it('bootstrap: flag, then the file, then BEAM_BOOTSTRAP, then none with --no-default-bootstrap', async () => {
    const [a, b, c] = [await peer(4001), await peer(4002), await peer(4003)]
    const direct = parseConfig(`backends:\n  direct:\n    bootstrap: [${b}]\n`, 'f').backends.direct
    const env = io({ BEAM_BOOTSTRAP: c })
    const of = async (flags: Parameters<typeof nodeSettings>[0], file: typeof direct | null = direct): Promise<string[]> =>
      (await nodeSettings({ defaultBootstrap: false, ...flags }, env, log, file ?? undefined)).bootstrap.map(n => n.multiaddr.toString())
    expect(await of({ bootstrap: [a] })).toEqual([a])
    expect(await of({})).toEqual([b])
    expect(await of({}, null)).toEqual([c])
    expect((await nodeSettings({ defaultBootstrap: false }, io(), log)).bootstrap).toEqual([])
    // an empty list in the file falls through to the default, not to the variable (as before)
    const empty = parseConfig('backends:\n  direct:\n    bootstrap: []\n', 'f').backends.direct
    expect(await of({}, empty)).toEqual([])
  })

  it('ICE servers: flags, then the file (its credentials typed, not re-encoded), then BEAM_ICE_SERVERS, then the relays\' STUN', async () => {
    const direct = parseConfig('backends:\n  direct:\n    iceServers:\n      - stun:127.0.0.1:3478\n      - urls: [turn:127.0.0.1:3479, stun:127.0.0.1:3480]\n        username: "us:er@x"\n        credential: "p@ss:w"\n', 'f').backends.direct
    const env = io({ BEAM_ICE_SERVERS: 'stun:127.0.0.1:9999' })
    const ice = async (flags: Parameters<typeof nodeSettings>[0], file: typeof direct | null = direct): Promise<unknown> => (await nodeSettings({ defaultBootstrap: false, ...flags }, env, log, file ?? undefined)).iceServers
    expect(await ice({ iceServer: ['stun:127.0.0.1:1'] })).toEqual([{ urls: 'stun:127.0.0.1:1' }])
    expect(await ice({})).toEqual([
      { urls: 'stun:127.0.0.1:3478' },
      { urls: 'turn:127.0.0.1:3479', username: 'us:er@x', credential: 'p@ss:w' },
      { urls: 'stun:127.0.0.1:3480' }
    ])
    expect(await ice({}, null)).toEqual([{ urls: 'stun:127.0.0.1:9999' }])
    const relay = await peer(4001)
    expect((await nodeSettings({ bootstrap: [relay] }, io(), log)).iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }])
  })

  it('public STUN: only when no ICE server is given and no beam relay offers STUN, unless turned off', async () => {
    // settings are computed only: nothing is contacted here
    const publicList = PUBLIC_STUN_SERVERS.map(urls => ({ urls }))
    const none = await nodeSettings({ defaultBootstrap: false }, io(), log)
    expect(none.iceServers).toEqual(publicList)
    expect(none.iceSource).toBe('public')
    expect(PUBLIC_STUN_SERVERS.length).toBeGreaterThanOrEqual(2)
    // off: the flag, the variable, the config file key
    for (const [flags, env, file] of [
      [{ publicStun: false }, {}, undefined],
      [{}, { BEAM_NO_PUBLIC_STUN: '1' }, undefined],
      [{}, { BEAM_NO_PUBLIC_STUN: 'true' }, undefined],
      [{}, {}, parseConfig('backends:\n  direct:\n    publicStun: false\n', 'f').backends.direct]
    ] as const) {
      const s = await nodeSettings({ defaultBootstrap: false, ...flags }, io(env), log, file)
      expect(s.iceServers).toEqual([])
      expect(s.iceSource).toBe('none')
    }
    expect((await nodeSettings({ defaultBootstrap: false }, io({ BEAM_NO_PUBLIC_STUN: '0' }), log)).iceSource).toBe('public')
    // a beam relay's STUN responder wins over the public list
    const relay = await peer(4001)
    expect(await nodeSettings({ bootstrap: [relay] }, io(), log)).toMatchObject({ iceServers: [{ urls: 'stun:127.0.0.1:3478' }], iceSource: 'relays' })
    // explicit ICE servers win over both, and an explicit empty list in the file is none
    expect(await nodeSettings({ bootstrap: [relay], iceServer: ['stun:127.0.0.1:1'] }, io(), log)).toMatchObject({ iceServers: [{ urls: 'stun:127.0.0.1:1' }], iceSource: 'explicit' })
    expect(await nodeSettings({ defaultBootstrap: false }, io({ BEAM_ICE_SERVERS: 'stun:127.0.0.1:2' }), log)).toMatchObject({ iceServers: [{ urls: 'stun:127.0.0.1:2' }], iceSource: 'explicit' })
    const emptyIce = parseConfig('backends:\n  direct:\n    iceServers: []\n', 'f').backends.direct
    expect(await nodeSettings({ defaultBootstrap: false }, io(), log, emptyIce)).toMatchObject({ iceServers: [], iceSource: 'none' })
    expect(chooseIceServers({ explicit: [], relayStun: [], publicStun: false })).toEqual({ iceServers: [], iceSource: 'none' })
  })

  it('anonymous-only nodes never use the public STUN servers (nor any ICE server or bootstrap node)', async () => {
    const s = await nodeSettings({ ephemeral: true }, io(), log)
    expect(s.iceSource).toBe('public')
    const ctx = createContext({ logLevel: 'silent', ephemeral: true }, io())
    const init = await toBeamInit(s, { ctx, anonymous: ['tor'] })
    expect(init.iceServers).toEqual([])
    expect(init.bootstrap).toEqual([])
  })

  it('BEAM_BOOTSTRAP_FILE names the list used instead of bootstrap-nodes.json; the flags still replace it', async () => {
    const d = dir()
    const file = join(d, 'nodes.json')
    const relay = await peer(4005)
    writeFileSync(file, JSON.stringify({ version: 1, nodes: [{ multiaddr: relay, roles: ['bootstrap', 'relay'], network: 'beam' }] }))
    const fromFile = await nodeSettings({}, io({ BEAM_BOOTSTRAP_FILE: file }), log)
    expect(fromFile.bootstrap.map(n => n.multiaddr.toString())).toEqual([relay])
    expect(fromFile.iceSource).toBe('relays')
    // the shipped list when nothing says otherwise: the public DHT's bootstrap peers, no relay, so public STUN
    const shipped = await nodeSettings({}, io(), log)
    expect(shipped.bootstrap.length).toBeGreaterThan(0)
    expect(shipped.bootstrap.every(n => n.network === 'amino')).toBe(true)
    expect(shipped.iceSource).toBe('public')
    expect(DEFAULT_BOOTSTRAP_FILE).toMatch(/bootstrap-nodes\.json$/)
    expect((await nodeSettings({ defaultBootstrap: false }, io({ BEAM_BOOTSTRAP_FILE: file }), log)).bootstrap).toEqual([])
    const other = await peer(4006)
    expect((await nodeSettings({ bootstrap: [other] }, io({ BEAM_BOOTSTRAP_FILE: file }), log)).bootstrap.map(n => n.multiaddr.toString())).toEqual([other])
    expect((await nodeSettings({}, io({ BEAM_BOOTSTRAP_FILE: file, BEAM_BOOTSTRAP: other }), log)).bootstrap.map(n => n.multiaddr.toString())).toEqual([other])
    await expect(nodeSettings({}, io({ BEAM_BOOTSTRAP_FILE: join(d, 'missing.json') }), log)).rejects.toMatchObject({ name: 'BootstrapConfigError' })
  })

  it('a file URL may carry USER:PASS@ itself', () => {
    expect(iceServersOf({ urls: ['turn:u:p@127.0.0.1:3478'] })).toEqual([{ urls: 'turn:127.0.0.1:3478', username: 'u', credential: 'p' }])
  })
})

describe('backend settings: the file fills what the flags leave unset', () => {
  const file = parseConfig('backends:\n  tor:\n    priority: 1\n    control: 9151\n    socks: 127.0.0.1:9150\n    onionPort: 4005\n    persistent: true\n  direct:\n    priority: 2\n', 'f').backends

  it('uses the file\'s order unless a flag chooses, and its tor entry only where tor is used', async () => {
    expect(await backendSetup({}, { file, role: 'share' })).toMatchObject({ names: ['tor', 'direct'], fallback: false, tor: { control: { host: '127.0.0.1', port: 9151 }, socks: { host: '127.0.0.1', port: 9150 }, onionPort: 4005, persistent: true } })
    // onionPort and persistent are a share's
    const connect = await backendSetup({}, { file })
    expect(connect.tor.onionPort).toBeUndefined()
    expect(connect.tor.persistent).toBe(false)
    expect((await backendSetup({ backend: 'direct' }, { file })).tor.control).toBeUndefined()
    expect((await backendSetup({ tor: true, torControl: '9999' }, { file })).tor.control).toEqual({ host: '127.0.0.1', port: 9999 })
  })

  it('a named entry\'s list replaces the choice; fallback needs two networks', async () => {
    expect(await backendSetup({}, { file, choice: { names: ['direct'], fallback: false } })).toMatchObject({ names: ['direct'] })
    await expect(backendSetup({ fallback: true })).rejects.toThrow('--fallback needs two or more networks in --backends')
  })

  it('holds the file\'s addresses to the flag\'s rule, with the flag\'s message', async () => {
    const named = parseConfig('backends:\n  tor:\n    control: localhost:9051\n', 'f').backends
    await expect(backendSetup({}, { file: named })).rejects.toThrow("invalid --tor-control 'localhost:9051': give an IP address, not a name")
  })

  it('a launched tor takes no control port from the file, but a flag one is refused', async () => {
    const launched = parseConfig('backends:\n  tor:\n    launch: true\n    control: 9051\n', 'f').backends
    const tor = (await backendSetup({}, { file: launched })).tor
    expect(tor.launch).toBe(true)
    expect(tor.control).toBeUndefined()
    await expect(backendSetup({ torControl: '9051' }, { file: launched })).rejects.toThrow('--tor-launch starts its own tor')
  })
})

describe('command settings and BeamInit', () => {
  it('a named tunnel gives typed services and access; the flags only what it lacks', async () => {
    const config = parseConfig('tunnels:\n  web:\n    ports: [8080, "127.0.0.2:9090"]\n    access: public\n', 'f')
    const tunnel = config.tunnels.web
    if (tunnel == null) throw new Error('no tunnel')
    const s = await shareSettings({ tunnel }, { defaultBootstrap: false, maxTunnels: '7' }, io(), log, config)
    expect(s.services).toEqual([{ port: 8080 }, { host: '127.0.0.2', port: 9090 }])
    expect(s.access).toEqual({ mode: 'public' })
    expect(s.limits).toEqual({ maxTunnels: 7 })
    expect(s.backends.names).toEqual(['direct'])
  })

  it('a named connection gives its ports and host; an i2p connect waits longer', async () => {
    const config = parseConfig(`connect:\n  db:\n    target: ${peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()}\n    localPort: 5433\n    remote: 5432\n    host: 127.0.0.3\n`, 'f')
    const s = await connectSettings({ defaultBootstrap: false }, io(), log, config, config.connect.db)
    expect(s).toMatchObject({ localPort: 5433, remotePort: 5432, host: '127.0.0.3', timeout: 30_000, throwaway: false })
    const i2p = await connectSettings({ defaultBootstrap: false, i2p: true }, io(), log)
    expect(i2p).toMatchObject({ timeout: 150_000, throwaway: true, node: { identity: { ephemeral: true } } })
  })

  it('toBeamInit: an anonymous-only node gets no bootstrap, ICE, DHT or address book', async () => {
    const i = io()
    const ctx = createContext({ logLevel: 'silent' }, i)
    const settings = await nodeSettings({ bootstrap: [await peer(4001)], ephemeral: true }, i, log)
    const clear = await toBeamInit(settings, { ctx, node: { listen: [] } })
    expect(clear).toMatchObject({ identityKind: 'ephemeral', listen: [], dht: { server: false }, transports: { webrtc: true } })
    expect(clear.bootstrap).toHaveLength(1)
    expect(clear.addressBook).toBe(join(i.env.BEAM_HOME ?? '', 'peers.json'))
    const anon = await toBeamInit(settings, { ctx, anonymous: ['tor'] })
    expect(anon).toMatchObject({ bootstrap: [], iceServers: [], dht: false })
    expect(anon.addressBook).toBeUndefined()
  })
})
