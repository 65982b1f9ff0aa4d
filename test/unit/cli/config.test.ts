import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, expect } from 'vitest'
import { backendOrder, ConfigError, findConfigFile, getTunnel, loadConfig, parseConfig, resolveName, suggest, CONFIG_FILE_NAME } from '../../../src/cli/config/index.ts'
import type { ConfigIssue } from '../../../src/cli/config/index.ts'

const F = 'beam.config.yaml'
const PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

function issuesOf (text: string, options = {}): ConfigIssue[] {
  try {
    parseConfig(text, F, options)
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as Error).name).toBe('ConfigError')
    return (err as ConfigError).issues
  }
  throw new Error('expected a ConfigError')
}

/** [what, yaml, line, text the message contains] */
const BAD: Array<[string, string, number, string]> = [
  ['port out of range', 'tunnels:\n  web:\n    port: 70000\n', 3, 'beam.config.yaml:3: tunnels.web.port: 70000 is not a port (1-65535)'],
  ['port zero', 'tunnels:\n  web:\n    port: 0\n', 3, 'tunnels.web.port: 0 is not a port (1-65535)'],
  ['port a word', 'tunnels:\n  web:\n    port: http\n', 3, "'http' is not a port (1-65535) or host:port"],
  ['port an IPv6 host without brackets', 'tunnels:\n  web:\n    port: "::1:8080"\n', 3, "tunnels.web.port: '::1:8080': an IPv6 address goes in brackets, as in [::1]:8080"],
  ['port negative', 'tunnels:\n  web:\n    port: -1\n', 3, 'is not a port'],
  ['port a float', 'tunnels:\n  web:\n    port: 80.5\n', 3, 'is not a port'],
  ['host:port with bad port', 'tunnels:\n  web:\n    port: "localhost:99999"\n', 3, "'99999' is not a port"],
  ['missing port', '\n\ntunnels:\n  web:\n    backends: [direct]\n', 4, 'tunnels.web: missing port'],
  ['port and ports', 'tunnels:\n  web:\n    port: 80\n    ports: [81]\n', 4, 'either port or ports'],
  ['empty ports', 'tunnels:\n  web:\n    ports: []\n', 3, 'is empty'],
  ['duplicate port in ports', 'tunnels:\n  web:\n    ports:\n      - 80\n      - 80\n', 5, 'port 80 is listed twice'],
  ['ports not a list', 'tunnels:\n  web:\n    ports: 80\n', 3, 'expected a list of ports'],
  ['host and host:port', 'tunnels:\n  web:\n    ports: ["10.0.0.1:80"]\n    host: example.org\n', 4, 'give the host in one place'],
  ['unknown tunnel key', 'tunnels:\n  web:\n    port: 80\n    prot: 81\n', 4, "tunnels.web.prot: unknown key: did you mean 'port'?"],
  ['unknown tunnel key, no close match', 'tunnels:\n  web:\n    port: 80\n    colour: red\n', 4, 'expected one of: port, ports, host, backends, strategy, access, allow, identity, secret, dashboard, gateway, gatewayName, httpAuth, httpToken'],
  ['bad strategy', 'tunnels:\n  web:\n    port: 80\n    strategy: fallbak\n', 4, "did you mean 'fallback'?"],
  ['strategy a number', 'tunnels:\n  web:\n    port: 80\n    strategy: 1\n', 4, 'expected one of: fallback, first-success'],
  ['bad access', 'tunnels:\n  web:\n    port: 80\n    access: private\n', 4, "tunnels.web.access: 'private' is not valid"],
  ['allow without ids', 'tunnels:\n  web:\n    port: 80\n    access: allow\n', 4, 'access: allow needs an allow: list'],
  ['empty allow', 'tunnels:\n  web:\n    port: 80\n    allow: []\n', 4, 'is empty'],
  ['allow with public', `tunnels:\n  web:\n    port: 80\n    access: public\n    allow: [${PEER}]\n`, 5, 'only goes with access: allow'],
  ['bad gateway address', 'tunnels:\n  web:\n    port: 80\n    gateway: gw.example.org\n', 4, "tunnels.web.gateway: 'gw.example.org' is not a gateway address (its multiaddr with /p2p/<peer-id>, or its peer id)"],
  ['gateway multiaddr without p2p', 'tunnels:\n  web:\n    port: 80\n    gateway: /ip4/127.0.0.1/tcp/4001\n', 4, 'is not a gateway address'],
  ['reserved gateway name', `tunnels:\n  web:\n    port: 80\n    gateway: ${PEER}\n    gatewayName: www\n`, 5, "tunnels.web.gatewayName: 'www' is reserved on gateways"],
  ['httpAuth without a colon', `tunnels:\n  web:\n    port: 80\n    gateway: ${PEER}\n    httpAuth: alice\n`, 5, 'tunnels.web.httpAuth: expected user:password'],
  ['httpToken without gateway', 'tunnels:\n  web:\n    port: 80\n    httpToken: t0ken\n', 4, 'tunnels.web.httpToken: only goes with gateway:'],
  ['bad peer id', 'tunnels:\n  web:\n    port: 80\n    allow:\n      - QmNotAPeer\n', 5, "'QmNotAPeer' is not a peer id"],
  ['unknown backend in tunnel', 'tunnels:\n  web:\n    port: 80\n    backends: [tor, drect]\n', 4, "tunnels.web.backends[1]: unknown backend 'drect': did you mean 'direct'?"],
  ['backend listed twice', 'tunnels:\n  web:\n    port: 80\n    backends: [tor, tor]\n', 4, "'tor' is listed twice"],
  ['empty backends', 'tunnels:\n  web:\n    port: 80\n    backends: []\n', 4, 'names no backend'],
  ['backends a string', 'tunnels:\n  web:\n    port: 80\n    backends: tor\n', 4, 'expected a list of backend names'],
  ['disabled backend used', 'backends:\n  tor:\n    enabled: false\ntunnels:\n  web:\n    port: 80\n    backends: [tor]\n', 7, 'disabled (enabled: false at line 2)'],
  ['bad tunnel name', 'tunnels:\n  "my web!":\n    port: 80\n', 2, 'a tunnel name is 1-63 letters'],
  ['tunnel not a map', 'tunnels:\n  web: 80\n', 2, "expected the settings of tunnel 'web'"],
  ['tunnels a list', 'tunnels:\n  - web\n', 2, 'expected the tunnels section'],
  ['unknown top-level key', 'version: 1\ntunnel:\n  web:\n    port: 80\n', 2, "tunnel: unknown key: did you mean 'tunnels'?"],
  ['wrong version', 'version: 2\n', 1, 'version: 2 is not supported'],
  ['unknown backend section', 'backends:\n  tor: {}\n  nmy:\n    priority: 1\n', 3, 'backends.nmy: unknown backend'],
  ['misspelt backend key', 'backends:\n  tor:\n    priorty: 1\n', 3, "backends.tor.priorty: unknown key: did you mean 'priority'?"],
  ['priority a word', 'backends:\n  tor:\n    priority: first\n', 3, "'first' is not a priority (0-1000)"],
  ['priority too big', 'backends:\n  tor:\n    priority: 5000\n', 3, 'is not a priority'],
  ['enabled not a boolean', 'backends:\n  tor:\n    enabled: yes\n', 3, "expected true or false, got 'yes'"],
  ['tor control a port out of range', 'backends:\n  tor:\n    control: 90510\n', 3, 'backends.tor.control: 90510 is not a port (1-65535)'],
  ['tor control a list', 'backends:\n  tor:\n    control: [1]\n', 3, 'expected host:port, got a list'],
  ['tor launchConfig without launch', 'backends:\n  tor:\n    launchConfig: /etc/beam/torrc\n', 3, 'only goes with launch: true'],
  ['tor onionPort out of range', 'backends:\n  tor:\n    onionPort: 0\n', 3, 'backends.tor.onionPort: 0 is not a port'],
  ['tor persistent not a boolean', 'backends:\n  tor:\n    persistent: 1\n', 3, 'expected true or false, got 1'],
  ['tor control no port', 'backends:\n  tor:\n    control: localhost\n', 3, "'localhost' is not host:port"],
  ['tor socks port out of range', 'backends:\n  tor:\n    socks: 127.0.0.1:90500\n', 3, 'is not host:port'],
  ['tor cookie file (auto-detected)', 'backends:\n  tor:\n    cookieFile: /run/tor/control.authcookie\n', 3, 'cookieFile'],
  ['tor launch with auth', 'backends:\n  tor:\n    launch: true\n    controlPassword: s3cret\n', 3, "launch: true starts beam's own tor"],
  ['tor launch a string', 'backends:\n  tor:\n    launch: "true"\n', 3, 'expected true or false'],
  ['i2p sam bad', 'backends:\n  i2p:\n    sam: "[::1]:0"\n', 3, 'is not host:port'],
  ['direct bad ice url', 'backends:\n  direct:\n    iceServers:\n      - http://stun.example\n', 4, 'is not a stun:, stuns:, turn: or turns: URL'],
  ['direct ice username alone', 'backends:\n  direct:\n    iceServers:\n      - urls: [turn:127.0.0.1:3478]\n        username: u\n', 4, 'username and credential go together'],
  ['direct ice unknown key', 'backends:\n  direct:\n    iceServers:\n      - urls: stun:127.0.0.1:3478\n        password: x\n', 5, 'iceServers[0].password: unknown key: expected one of: urls, username, credential'],
  ['direct bootstrap without p2p', 'backends:\n  direct:\n    bootstrap:\n      - /ip4/127.0.0.1/tcp/4001\n', 4, 'has no /p2p/<peer-id> part'],
  ['direct bootstrap garbage', 'backends:\n  direct:\n    bootstrap: [not-a-multiaddr]\n', 3, 'is not a valid multiaddr'],
  ['connect missing target', 'connect:\n  db:\n    localPort: 5433\n', 2, 'connect.db: missing target'],
  ['connect bad local port', `connect:\n  db:\n    target: ${PEER}\n    localPort: 65536\n`, 4, 'connect.db.localPort: 65536 is not a port (1-65535)'],
  ['connect bad remote', `connect:\n  db:\n    target: ${PEER}\n    remote: x\n`, 4, "connect.db.remote: 'x' is not a port"],
  ['connect target with spaces', 'connect:\n  db:\n    target: "a b"\n', 3, 'contains spaces'],
  ['connect broken connect string', 'connect:\n  db:\n    target: beamzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz\n', 3, 'connect.db.target: '],
  ['connect unknown key', `connect:\n  db:\n    target: ${PEER}\n    port: 1\n`, 4, "connect.db.port: unknown key: did you mean 'localPort'?"],
  ['connect name clashes with tunnel', `tunnels:\n  db:\n    port: 5432\nconnect:\n  db:\n    target: ${PEER}\n`, 5, "also a tunnel (line 2)"],
  ['connect unknown strategy', `connect:\n  db:\n    target: ${PEER}\n    strategy: race\n`, 4, "'race' is not valid"],
  ['dashboard a word', 'dashboard: maybe\n', 1, "dashboard: expected true, false or a port (1-65535), got 'maybe'"],
  ['tunnel dashboard port out of range', 'tunnels:\n  web:\n    port: 80\n    dashboard: 70000\n', 4, 'tunnels.web.dashboard: 70000 is not a port (1-65535)'],
  ['connect dashboard a list', `connect:\n  db:\n    target: ${PEER}\n    dashboard: [8080]\n`, 4, 'connect.db.dashboard: expected true, false or a port (1-65535), got a list'],
  ['YAML syntax error', 'tunnels:\n  web:\n    port: [80\n', 3, 'YAML:'],
  ['YAML duplicate key', 'tunnels:\n  web:\n    port: 80\n    port: 81\n', 4, 'YAML: Map keys must be unique'],
  ['YAML tab indentation', 'tunnels:\n\tweb:\n', 2, 'YAML:'],
  ['YAML alias', 'tunnels:\n  a: &x\n    port: 80\n  b: *x\n', 4, 'anchors and aliases'],
  ['document is a list', '- 1\n', 1, 'got a list'],
  ['document is a scalar', 'hello\n', 1, "got 'hello'"],
  ['non-string key', 'tunnels:\n  [a, b]: {}\n', 2, 'keys must be plain names']
]

describe('parseConfig: bad input names the file and the line', () => {
  for (const [what, yaml, line, text] of BAD) {
    it(what, () => {
      const issues = issuesOf(yaml)
      expect(issues.length).toBeGreaterThan(0)
      const format = (i: ConfigIssue): string => `${i.file}:${i.line}: ${i.path === '' ? '' : `${i.path}: `}${i.message}`
      const hit = issues.find(i => format(i).includes(text))
      expect(hit, `${issues.map(format).join('\n')}\n— expected one containing: ${text}`).toBeDefined()
      expect(hit?.line).toBe(line)
      for (const i of issues) {
        expect(i.file).toBe(F)
        expect(i.line).toBeGreaterThanOrEqual(1)
        expect(i.column).toBeGreaterThanOrEqual(1)
      }
    })
  }

  it('reports every problem at once, in line order, one line each in the message', () => {
    const yaml = [
      'backends:', //              1
      '  tor:', //                 2
      '    priorty: 1', //         3
      'tunnels:', //               4
      '  web:', //                 5
      '    port: 70000', //        6
      '    strategy: fastest', //  7
      'connect:', //               8
      '  db: {}' //                9
    ].join('\n')
    let err: unknown
    try { parseConfig(yaml, F) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ConfigError)
    const issues = (err as ConfigError).issues
    expect(issues.map(i => i.line)).toEqual([3, 6, 7, 9])
    const msg = (err as Error).message.split('\n')
    expect(msg).toHaveLength(4)
    for (const l of msg) expect(l).toMatch(/^beam\.config\.yaml:\d+: /)
    expect(msg[1]).toBe('beam.config.yaml:6: tunnels.web.port: 70000 is not a port (1-65535)')
  })

  it('rejects backends the caller does not know, accepts those it names', () => {
    expect(issuesOf('backends:\n  nym:\n    priority: 1\n')[0]?.message).toMatch(/unknown backend/)
    const cfg = parseConfig('backends:\n  nym:\n    priority: 1\n    options:\n      gateway: x\ntunnels:\n  web:\n    port: 80\n    backends: [nym, direct]\n', F, { extraBackends: ['nym'] })
    expect(cfg.backends.extra.nym).toMatchObject({ priority: 1, enabled: true, options: { gateway: 'x' } })
    expect(cfg.tunnels.web?.backends).toEqual(['nym', 'direct'])
    expect(issuesOf('backends:\n  nym:\n    gateway: x\n', { extraBackends: ['nym'] })[0]?.message).toMatch(/unknown key/)
  })
})

describe('parseConfig: good input', () => {
  it('an empty file is an empty config', () => {
    for (const t of ['', '\n', '# only a comment\n', '---\n']) {
      const c = parseConfig(t, F)
      expect(c).toMatchObject({ file: F, version: 1, tunnels: {}, connect: {}, backends: { extra: {} } })
    }
  })

  it('reads a full file with every kind of entry', () => {
    const yaml = `
version: 1
backends:
  tor:
    priority: 1
    control: 127.0.0.1:9051
    socks: "[::1]:9050"
  i2p:
    priority: 2
    sam: 127.0.0.1:7656
    enabled: false
  direct:
    priority: 10
    iceServers:
      - stun:127.0.0.1:3478
      - urls: [turn:127.0.0.1:3478, turns:127.0.0.1:5349]
        username: beam
        credential: secret
    bootstrap:
      - /ip4/127.0.0.1/tcp/4001/p2p/${PEER}
tunnels:
  web:
    port: 3000
  admin:
    ports: [8080, "localhost:9090", "[::1]:7000"]
    backends: [tor]
    strategy: first-success
    allow: [${PEER}]
  pub:
    port: "4000"
    host: 127.0.0.2
    access: public
    gateway: /ip4/127.0.0.1/tcp/4001/p2p/${PEER}
    gatewayName: myapp
    httpAuth: "alice:s3cret"
connect:
  db:
    target: ${PEER}
    localPort: 5433
    host: 127.0.0.1
    remote: 5432
    backends: [tor, direct]
    strategy: fallback
`
    const c = parseConfig(yaml, F)
    expect(c.backends.tor).toEqual({ priority: 1, enabled: true, line: 4, control: { host: '127.0.0.1', port: 9051 }, socks: { host: '::1', port: 9050 } })
    expect(c.backends.i2p).toMatchObject({ enabled: false, sam: { host: '127.0.0.1', port: 7656 } })
    expect(c.backends.direct?.iceServers).toEqual([{ urls: ['stun:127.0.0.1:3478'] }, { urls: ['turn:127.0.0.1:3478', 'turns:127.0.0.1:5349'], username: 'beam', credential: 'secret' }])
    expect(c.backends.direct?.bootstrap).toHaveLength(1)
    expect(backendOrder(c.backends)).toEqual(['tor', 'direct'])
    // a tunnel without backends: the enabled ones, by priority
    expect(c.tunnels.web).toEqual({ name: 'web', services: [{ port: 3000 }], backends: ['tor', 'direct'], strategy: 'first-success', access: 'secret', allow: [], line: 22 })
    expect(c.tunnels.admin).toMatchObject({ services: [{ port: 8080 }, { host: 'localhost', port: 9090 }, { host: '::1', port: 7000 }], backends: ['tor'], strategy: 'first-success', access: 'allow', allow: [PEER] })
    expect(c.tunnels.pub).toMatchObject({ services: [{ host: '127.0.0.2', port: 4000 }], access: 'public', gateway: `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, gatewayName: 'myapp', httpAuth: 'alice:s3cret' })
    expect(c.connect.db).toEqual({ name: 'db', target: PEER, localPort: 5433, host: '127.0.0.1', remote: 5432, backends: ['tor', 'direct'], strategy: 'fallback', line: 37 })
    expect(resolveName(c, 'db').kind).toBe('connect')
    expect(resolveName(c, 'web').kind).toBe('tunnel')
    expect(getTunnel(c, 'admin').name).toBe('admin')
  })

  it('a backends section that lists only tor makes tunnels Tor-only by default', () => {
    const c = parseConfig('backends:\n  tor:\ntunnels:\n  web:\n    port: 80\nconnect:\n  db:\n    target: x\n', F)
    expect(c.tunnels.web?.backends).toEqual(['tor'])
    expect(c.connect.db?.backends).toEqual(['tor'])
  })

  it('takes a bare port for tor control/socks, and the launch options', () => {
    const c = parseConfig('backends:\n  tor:\n    control: 9151\n    socks: 9150\n    launch: true\n    launchConfig: /etc/beam/torrc\n    persistent: true\n    onionPort: 443\n', F)
    expect(c.backends.tor).toMatchObject({ control: { host: '127.0.0.1', port: 9151 }, socks: { host: '127.0.0.1', port: 9150 }, launch: true, launchConfig: '/etc/beam/torrc', persistent: true, onionPort: 443 })
  })

  it('without a backends section a tunnel uses direct', () => {
    expect(parseConfig('tunnels:\n  w:\n    port: 1\n', F).tunnels.w?.backends).toEqual(['direct'])
  })

  it('priority ties keep file order; disabled backends are left out', () => {
    const c = parseConfig('backends:\n  i2p: {}\n  tor: {}\n  direct:\n    priority: 5\n', F)
    expect(backendOrder(c.backends)).toEqual(['direct', 'i2p', 'tor'])
    const d = parseConfig('backends:\n  tor:\n    enabled: false\n  direct: {}\n', F)
    expect(backendOrder(d.backends)).toEqual(['direct'])
  })

  it('reads dashboard: at the top and per tunnel or connection (true, false or a port); left out, it is absent', () => {
    const c = parseConfig(`dashboard: false\ntunnels:\n  web:\n    port: 80\n    dashboard: 8080\n  api:\n    port: 81\nconnect:\n  db:\n    target: ${PEER}\n    dashboard: true\n`, F)
    expect(c.dashboard).toBe(false)
    expect(c.tunnels.web?.dashboard).toBe(8080)
    expect(c.tunnels.api?.dashboard).toBeUndefined()
    expect(c.connect.db?.dashboard).toBe(true)
    expect(parseConfig('version: 1\n', F).dashboard).toBeUndefined()
  })

  it('names a missing tunnel with a suggestion', () => {
    const c = parseConfig('tunnels:\n  web:\n    port: 80\n', F)
    expect(() => getTunnel(c, 'wbe')).toThrow(/no tunnel named 'wbe': did you mean 'web'\?/)
    expect(() => resolveName(parseConfig('', F), 'x')).toThrow(/beam\.config\.yaml:1: no tunnel or connection named 'x': the file defines none/)
  })
})

describe('suggest', () => {
  it('suggests close words and lists the choices otherwise', () => {
    expect(suggest('tunnel', ['version', 'tunnels'])).toBe("did you mean 'tunnels'?")
    expect(suggest('PORT', ['port', 'ports'])).toBe("did you mean 'port'?")
    expect(suggest('zzz', ['port', 'ports'])).toBe('expected one of: port, ports')
  })
})

describe('loadConfig and findConfigFile', () => {
  let dir = ''
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'beam-config-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('loads a file and labels issues with its path', async () => {
    const p = join(dir, 'ok.yaml')
    await writeFile(p, 'tunnels:\n  web:\n    port: 3000\n')
    const c = await loadConfig(p, { signal: AbortSignal.timeout(5_000) })
    expect(c.file).toBe(p)
    expect(c.tunnels.web?.services).toEqual([{ port: 3000 }])
    const bad = join(dir, 'bad.yaml')
    await writeFile(bad, 'tunnels:\n  web:\n    port: 70000\n')
    await expect(loadConfig(bad)).rejects.toThrow(`${bad}:3: tunnels.web.port: 70000 is not a port (1-65535)`)
  })

  it('says when the file is missing, a directory or too large', async () => {
    await expect(loadConfig(join(dir, 'nope.yaml'))).rejects.toThrow(/nope\.yaml:1: no such file/)
    await expect(loadConfig(dir)).rejects.toMatchObject({ name: 'ConfigError', message: expect.stringMatching(/:1: not a file$/) })
    const big = join(dir, 'big.yaml')
    await writeFile(big, '#'.repeat(1024 * 1024 + 1))
    await expect(loadConfig(big)).rejects.toThrow(/is 1048577 bytes/)
  })

  it('warns when a file with a Tor control password is readable by others', async () => {
    const p = join(dir, 'pw.yaml')
    await writeFile(p, 'backends:\n  tor:\n    controlPassword: s3cret\n')
    await chmod(p, 0o644)
    expect((await loadConfig(p)).warnings[0]).toMatch(/others can read it \(mode 644\): chmod 600/)
    await chmod(p, 0o600)
    expect((await loadConfig(p)).warnings).toEqual([])
  })

  it('honours an aborted signal', async () => {
    const ctl = new AbortController()
    ctl.abort()
    await expect(loadConfig(join(dir, 'ok.yaml'), { signal: ctl.signal })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('looks for --config, then BEAM_HOME/beam.config.yaml, never the current directory', async () => {
    expect(findConfigFile({ flag: 'x.yaml', home: dir })).toEqual({ path: 'x.yaml', source: 'flag' })
    expect(findConfigFile({ home: dir })).toBeUndefined()
    await writeFile(join(dir, CONFIG_FILE_NAME), '')
    expect(findConfigFile({ home: dir })).toEqual({ path: join(dir, CONFIG_FILE_NAME), source: 'home' })
    expect(findConfigFile({ home: '/nonexistent', exists: () => false })).toBeUndefined()
  })
})

describe('docs/configuration.md', () => {
  it('every yaml example in it parses (except those marked as errors), and every error example fails on the line it says', async () => {
    const doc = await readFile(new URL('../../../docs/configuration.md', import.meta.url), 'utf8')
    const blocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map(m => m[1] ?? '')
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    let good = 0
    let bad = 0
    for (const block of blocks) {
      const m = /^# error: line (\d+): (.+)$/m.exec(block)
      if (m == null) {
        parseConfig(block, F, { extraBackends: ['nym', 'veilid', 'freenet', 'zeronet', 'zkn', 'anonet', 'ator'] })
        good++
      } else {
        const issues = issuesOf(block)
        expect(issues[0]?.line, block).toBe(Number(m[1]))
        expect(`${issues[0]?.path}: ${issues[0]?.message}`, block).toContain(m[2])
        bad++
      }
    }
    expect(good).toBeGreaterThanOrEqual(3)
    expect(bad).toBeGreaterThanOrEqual(1)
  })
})

describe('parseConfig: a tunnel\'s own key files', () => {
  it('reads identity: and secret:, relative to the file\'s directory', () => {
    const c = parseConfig('tunnels:\n  web:\n    port: 80\n    identity: tunnels/web/identity.json\n    secret: /keys/web-secret\n', '/etc/beam/beam.config.yaml')
    expect(getTunnel(c, 'web')).toMatchObject({ identity: '/etc/beam/tunnels/web/identity.json', secret: '/keys/web-secret' })
    expect(getTunnel(parseConfig('tunnels:\n  web:\n    port: 80\n', '/x/beam.config.yaml'), 'web').identity).toBeUndefined()
    expect(() => parseConfig('tunnels:\n  web:\n    port: 80\n    identity: 3\n', '/x/beam.config.yaml')).toThrow(/tunnels\.web\.identity: expected a file path/)
  })
})
