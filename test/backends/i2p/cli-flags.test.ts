/**
 * The I2P flags of `beam share` / `beam connect` / `beam backends` without an
 * I2P network: which backends they select, their errors (one line, the right
 * exit code), the config file's `backends.i2p.sam`, and a SAM port with
 * nothing behind it (exit 13 with the reason). Real sockets on 127.0.0.1 only.
 */
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { parseI2pHops } from '../../../src/cli/backend-flags.ts'
import { backendSetup, resolveBackends } from '../../../src/cli/settings/index.ts'
import { parseConfig } from '../../../src/cli/config/index.ts'
import { runCli } from '../../../src/cli/program.ts'
import { ExitCode } from '../../../src/cli/exit-codes.ts'
import { defaultBackends } from '../../../src/backends/index.ts'
import { encodeConnectString } from '../../../src/peer/index.ts'
import { guardEnv } from '../../helpers/guard.ts'

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function home (): string {
  const d = mkdtempSync(join(tmpdir(), 'beam-i2p-flags-'))
  dirs.push(d)
  return d
}

async function run (args: string[], env: Record<string, string> = {}): Promise<{ code: number, stdout: string, stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (s: string) => { stdout += s; return true } },
    stderr: { write: (s: string) => { stderr += s; return true } },
    env: { ...guardEnv(), BEAM_HOME: home(), ...env },
    signal: AbortSignal.timeout(20_000),
    stderrIsTTY: false
  })
  return { code, stdout, stderr }
}

/** A port on 127.0.0.1 that nothing listens on (bound, then closed). */
async function closedPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => { resolve(port) })
    })
  })
}

/** The messages of the `error` events (stdout, --json) of a failed run. */
function errorLines (stdout: string): string[] {
  return stdout.split('\n').filter(l => l.trim() !== '').map(l => JSON.parse(l) as { event: string, message?: string }).filter(e => e.event === 'error').map(e => e.message ?? '')
}

describe('I2P backend flags', () => {
  it('--i2p and --backend i2p select I2P only (anonymous-only); --backends i2p,direct mixes', async () => {
    const h = home()
    for (const flags of [{ i2p: true }, { backend: 'i2p' }, { backends: 'i2p' }]) {
      const s = await resolveBackends(flags, h, process.pid)
      expect(s.names).toEqual(['i2p'])
      expect(s.anonymousOnly).toBe(true)
      expect(s.backends[0]?.addressProtocols).toEqual(['garlic64', 'garlic32'])
    }
    const mixed = await resolveBackends({ backends: 'i2p,direct' }, h, process.pid)
    expect(mixed.names).toEqual(['i2p', 'direct'])
    expect(mixed.anonymousOnly).toBe(false)
    const both = await resolveBackends({ backends: 'tor,i2p', fallback: true }, h, process.pid)
    expect(both.names).toEqual(['tor', 'i2p'])
    expect(both.anonymousOnly).toBe(true)
  })

  it('the registry has a real i2p backend (no longer a planned placeholder)', () => {
    const b = defaultBackends().get('i2p')
    expect(b.transport).toBeTypeOf('function')
    expect(b.anonymity).toEqual({ sharer: true, connector: true })
    expect(b.listenAddrs?.()[0]).toMatch(/^\/garlic64\//)
  })

  it('--i2p-persistent keeps its key under $BEAM_HOME/i2p (no key yet: a transient listen address)', async () => {
    const s = await resolveBackends({ i2p: true, i2pPersistent: true }, home(), process.pid)
    expect(s.backends[0]?.listenAddrs?.()[0]).toMatch(/^\/garlic64\/[A-Za-z0-9~-]+$/)
  })

  it('--i2p-hops: IN or IN,OUT from 0 to 7', () => {
    expect(parseI2pHops('3')).toEqual({ inboundLength: 3, outboundLength: 3 })
    expect(parseI2pHops('1,0')).toEqual({ inboundLength: 1, outboundLength: 0 })
    for (const bad of ['8', '-1', '1,2,3', 'x', '', '1,']) expect(() => parseI2pHops(bad), bad).toThrow(/invalid --i2p-hops/)
  })

  it('usage errors exit 2 in one line', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['share', '3000', '--i2p', '--tor'], /give one of --backend, --backends, --tor, --ator and --i2p/],
      [['share', '3000', '--i2p-sam', '127.0.0.1:7656'], /--i2p-\* options need the i2p backend/],
      [['connect', 'x', '--i2p', '--i2p-sam', 'localhost:7656'], /give an IP address, not a name/],
      [['connect', 'x', '--i2p', '--i2p-sam', '127.0.0.1:99999'], /invalid --i2p-sam '127.0.0.1:99999'/],
      [['share', '3000', '--i2p', '--i2p-hops', '9'], /invalid --i2p-hops '9'/],
      [['share', '3000', '--i2p', '--listen', '/ip4/127.0.0.1/tcp/0'], /i2p-only mode opens no clearnet listener/],
      [['share', '3000', '--i2p', '--name', 'web'], /i2p-only mode uses no DHT/],
      [['backends', '--i2p-sam', 'nope'], /invalid --i2p-sam 'nope'/]
    ]
    for (const [args, want] of cases) {
      const r = await run([...args, '--json'])
      expect(r.code, args.join(' ')).toBe(ExitCode.USAGE)
      const errs = errorLines(r.stdout)
      expect(errs.length, `${args.join(' ')}: ${r.stdout}`).toBe(1)
      expect(errs[0], args.join(' ')).toMatch(want)
    }
  })

  it('no SAM bridge: beam backends says not-running with the address, share and connect exit 13', async () => {
    const port = await closedPort()
    const b = await run(['backends', '--i2p-sam', `127.0.0.1:${port}`, '--json'])
    expect(b.code).toBe(0)
    const row = b.stdout.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as { name: string, status: string, reason: string | null }).find(r => r.name === 'i2p')
    // i2pd is installed on the test machines (scripts/install-test-deps.sh); without it the status is not-installed
    expect(['not-running', 'not-installed']).toContain(row?.status)
    expect(row?.reason).toContain(`127.0.0.1:${port}`)

    const share = await run(['share', '3000', '--i2p', '--i2p-sam', String(port), '--json'])
    expect(share.code).toBe(ExitCode.BACKEND_UNAVAILABLE)
    expect(errorLines(share.stdout)).toHaveLength(1)
    expect(share.stdout).toContain(`no SAM bridge at 127.0.0.1:${port}`)

    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const cs = encodeConnectString({ peerId, multiaddrs: [multiaddr(`/garlic32/${'a'.repeat(52)}`)] })
    const conn = await run(['connect', cs, '--i2p', '--i2p-sam', `127.0.0.1:${port}`, '--json'])
    expect(conn.code).toBe(ExitCode.BACKEND_UNAVAILABLE)
    expect(errorLines(conn.stdout)).toHaveLength(1)
    expect(conn.stdout).toContain(`no SAM bridge at 127.0.0.1:${port}`)
  })

  it('connect --i2p refuses a connect string without an I2P address (exit 4)', async () => {
    const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
    const cs = encodeConnectString({ peerId, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')] })
    const r = await run(['connect', cs, '--i2p', '--json'])
    expect(r.code).toBe(ExitCode.INVALID_TARGET)
    expect(r.stdout).toMatch(/has no i2p address/)
  })

  it('the config file\'s backends.i2p.sam is the SAM bridge where i2p is used', async () => {
    const file = parseConfig('backends:\n  i2p:\n    sam: 127.0.0.1:7999\n', 'beam.config.yaml').backends
    const sam = { host: '127.0.0.1', port: 7999 }
    expect((await backendSetup({ i2p: true }, { file })).i2p.sam).toEqual(sam)
    expect(await backendSetup({}, { file })).toMatchObject({ names: ['i2p'], i2p: { sam } })
    // the command line wins; a backend not in use takes nothing from the file
    expect((await backendSetup({ i2p: true, i2pSam: '127.0.0.1:1234' }, { file })).i2p.sam).toEqual({ host: '127.0.0.1', port: 1234 })
    expect((await backendSetup({ backend: 'direct' }, { file })).i2p.sam).toBeUndefined()
  })
})
