/**
 * A private Tor network on 127.0.0.1, for tests: 3 directory authorities
 * (keys from tor-gencert, cached between runs in the temp dir), 3 relays and a
 * few client instances with a SocksPort and a ControlPort. Every torrc is
 * generated here (never the packaged one); nothing reaches the public Tor
 * network: the only DirAuthority lines are our own, TestingTorNetwork is on,
 * and every address is loopback.
 *
 * The same harness builds a private ATOR network from the Anyone Protocol's
 * `anon` and `anon-gencert` (a Tor fork): pass `flavour: anonFlavour()`.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, mkdir, readFile, rm, writeFile, cp, rename, access } from 'node:fs/promises'
import { constants as fsConstants } from 'node:fs'
import net from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { TorControl } from '../../../src/backends/tor/control.ts'

/** An empty torrc: tor refuses /dev/null as a config file. */
async function emptyTorrc (): Promise<string> {
  const p = join(tmpdir(), 'beam-tor-empty.torrc')
  await writeFile(p, '')
  return p
}

/** Where Debian puts the binaries; PATH may lack sbin. */
export const TOR_BIN = '/usr/sbin/tor'
const GENCERT_BIN = '/usr/bin/tor-gencert'

/** Which Tor-protocol daemon the network is made of, and how it must be run. */
export interface TorFlavour {
  /** Used in temp-dir names and messages: 'tor' or 'anon'. */
  name: string
  bin: string
  gencert: string
  /** Lines every generated torrc gets (anon: AgreeToTerms 1). */
  extraTorrc: string[]
  /** Whether to pass an empty --defaults-torrc (anon aborts on it: free(): invalid size). */
  defaultsTorrc: boolean
}

export const TOR_FLAVOUR: TorFlavour = { name: 'tor', bin: TOR_BIN, gencert: GENCERT_BIN, extraTorrc: [], defaultsTorrc: true }

/** Where scripts/install-ator.sh puts anon and anon-gencert (BEAM_ATOR_DIR overrides, as in the script). */
export function anonDir (): string {
  return process.env.BEAM_ATOR_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'beam', 'ator-1.1.3')
}

/** ATOR's anon, from scripts/install-ator.sh's folder. */
export function anonFlavour (dir: string = anonDir()): TorFlavour {
  return { name: 'anon', bin: join(dir, 'anon'), gencert: join(dir, 'anon-gencert'), extraTorrc: ['AgreeToTerms 1', 'UseDefaultFallbackDirs 0'], defaultsTorrc: false }
}

export async function torInstalled (flavour: TorFlavour = TOR_FLAVOUR): Promise<boolean> {
  try {
    await access(flavour.bin, fsConstants.X_OK)
    await access(flavour.gencert, fsConstants.X_OK)
    return true
  } catch {
    return false
  }
}

/** Arguments that select `torrc` as the only config file of this flavour. */
async function configArgs (flavour: TorFlavour, torrc: string): Promise<string[]> {
  return flavour.defaultsTorrc ? ['--defaults-torrc', await emptyTorrc(), '-f', torrc] : ['-f', torrc]
}

/** stdout of a one-shot command; the exit status is ignored (anon aborts at exit after --list-fingerprint). */
async function stdoutOf (bin: string, args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'ignore'] })
    let out = ''
    const t = setTimeout(() => { child.kill('SIGKILL') }, 60_000)
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.once('error', err => { clearTimeout(t); reject(err) })
    child.once('close', () => { clearTimeout(t); resolve(out) })
  })
}

export type ClientAuth = 'none' | 'cookie' | 'password'

export interface TorClientInfo {
  name: string
  socksPort: number
  controlPort: number
  auth: ClientAuth
  /** Control password when auth is 'password'. */
  password?: string
  dataDir: string
  pid: number
}

/** What tests get (serialisable: it crosses vitest's globalSetup boundary). */
export interface TorNetworkInfo {
  dir: string
  clients: TorClientInfo[]
  /** Wall time from the first tor spawn to every client at 100 %. */
  bootstrapMs: number
  /** torrc lines that make another tor (e.g. `beam --tor-launch`) join this network. */
  networkTorrc: string
  pids: number[]
}

export interface TorNetwork extends TorNetworkInfo {
  stop: () => Promise<void>
}

/** Ports handed out by this process: never the same one twice. */
const handedOut = new Set<number>()

export async function freePort (): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await anyPort()
    if (!handedOut.has(p)) { handedOut.add(p); return p }
  }
  throw new Error('no free port found')
}

async function anyPort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr != null ? addr.port : 0
      s.close(() => { resolve(port) })
    })
  })
}

/** Settings of every node: small voting intervals, no GeoIP, loopback only. */
function commonTorrc (dataDir: string, flavour: TorFlavour): string {
  return [
    ...flavour.extraTorrc,
    'TestingTorNetwork 1',
    `DataDirectory ${dataDir}`,
    `Log notice file ${join(dataDir, 'notice.log')}`,
    'RunAsDaemon 0',
    'SafeLogging 0',
    'ShutdownWaitLength 0',
    'Sandbox 0',
    'GeoIPFile /nonexistent-beam-test',
    'GeoIPv6File /nonexistent-beam-test',
    'ClientUseIPv6 0',
    'AssumeReachable 1',
    'PathsNeededToBuildCircuits 0.25',
    'TestingV3AuthInitialVotingInterval 5',
    'TestingV3AuthInitialVoteDelay 2',
    'TestingV3AuthInitialDistDelay 2',
    'TestingV3AuthVotingStartOffset 0',
    'V3AuthVotingInterval 10',
    'V3AuthVoteDelay 2',
    'V3AuthDistDelay 2',
    'TestingDirAuthVoteExit *',
    'TestingDirAuthVoteGuard *',
    'TestingDirAuthVoteHSDir *',
    'DataDirectoryGroupReadable 1',
    // every tor of the test network exits when the process that made it does (even on a crash)
    `__OwningControllerProcess ${process.pid}`,
    ''
  ].join('\n')
}

interface AuthorityKeys {
  /** Folder holding keys/ to copy into the authority's DataDirectory. */
  dir: string
  v3ident: string
  fingerprint: string
}

/** Authority keys, made once and cached in the temp dir (tor-gencert is slow on a busy machine). */
async function authorityKeys (index: number, flavour: TorFlavour): Promise<AuthorityKeys> {
  const cache = join(tmpdir(), flavour.name === 'tor' ? 'beam-tor-authority-keys-v1' : `beam-${flavour.name}-authority-keys-v1`, `auth${index}`)
  try {
    return JSON.parse(await readFile(join(cache, 'meta.json'), 'utf8')) as AuthorityKeys
  } catch {}
  const work = await mkdtemp(join(tmpdir(), 'beam-tor-authkeys-'))
  const keys = join(work, 'keys')
  await mkdir(keys, { recursive: true, mode: 0o700 })
  await new Promise<void>((resolve, reject) => {
    const child = spawn(flavour.gencert, ['--create-identity-key', '-m', '24', '-a', `127.0.0.1:${7000 + index}`,
      '-i', join(keys, 'authority_identity_key'), '-s', join(keys, 'authority_signing_key'), '-c', join(keys, 'authority_certificate'),
      '--passphrase-fd', '0'], { stdio: ['pipe', 'ignore', 'pipe'] })
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.stdin.end('\n')
    child.on('exit', code => { code === 0 ? resolve() : reject(new Error(`${flavour.name}-gencert failed: ${err}`)) })
  })
  const cert = await readFile(join(keys, 'authority_certificate'), 'utf8')
  const v3ident = /^fingerprint (\S+)/m.exec(cert)?.[1] ?? ''
  // the relay identity of the authority: tor makes it in DataDirectory/keys
  const stdout = await stdoutOf(flavour.bin, [...await configArgs(flavour, await emptyTorrc()), '--quiet', '--list-fingerprint', '--DataDirectory', work, '--ORPort', '1',
    ...flavour.extraTorrc.flatMap(l => { const [k = '', ...v] = l.split(' '); return [`--${k}`, v.join(' ')] }),
    '--DirAuthority', 'x 127.0.0.1:1 ffffffffffffffffffffffffffffffffffffffff', '--GeoIPFile', '/nonexistent-beam-test', '--GeoIPv6File', '/nonexistent-beam-test'])
  const fingerprint = (stdout.trim().split('\n').pop() ?? '').split(' ').slice(1).join('')
  if (v3ident === '' || !/^[0-9A-F]{40}$/.test(fingerprint)) throw new Error(`could not read authority fingerprints (${v3ident}, ${fingerprint})`)
  const meta: AuthorityKeys = { dir: cache, v3ident, fingerprint }
  await writeFile(join(work, 'meta.json'), JSON.stringify(meta))
  await mkdir(join(cache, '..'), { recursive: true })
  try {
    await rename(work, cache)
  } catch {
    // another run made it first: use theirs
    await rm(work, { recursive: true, force: true })
    return JSON.parse(await readFile(join(cache, 'meta.json'), 'utf8')) as AuthorityKeys
  }
  return meta
}

async function hashPassword (password: string, flavour: TorFlavour): Promise<string> {
  const stdout = await stdoutOf(flavour.bin, [...await configArgs(flavour, await emptyTorrc()), '--quiet', '--hash-password', password])
  return stdout.trim().split('\n').pop() ?? ''
}

function startTor (torrcPath: string, defaults: string, logTo: string[], flavour: TorFlavour): ChildProcess {
  const child = spawn(flavour.bin, flavour.defaultsTorrc ? ['--defaults-torrc', defaults, '-f', torrcPath] : ['-f', torrcPath], { stdio: ['ignore', 'pipe', 'pipe'] })
  const keep = (d: Buffer): void => { logTo.push(d.toString()); if (logTo.length > 200) logTo.shift() }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return child
}

export interface StartOptions {
  /** Client instances and their control-port auth. @default ['cookie', 'none'] */
  clients?: ClientAuth[]
  /** Give up after this many ms. @default 90000 */
  timeout?: number
  /** Tor, or ATOR's anon. @default TOR_FLAVOUR */
  flavour?: TorFlavour
}

/**
 * Build and bootstrap the network; resolves once every client is at 100 %.
 * Tries up to three times: another process on the machine may take one of
 * the free ports picked before tor binds it.
 */
export async function startTorNetwork (options: StartOptions = {}): Promise<TorNetwork> {
  let last: Error | undefined
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(options)
    } catch (err) {
      last = err as Error
      if (!/Address already in use/.test(last.message)) throw err
      process.stderr.write(`tor-network: a port was taken meanwhile (attempt ${attempt}); starting again on other ports\n`)
    }
  }
  throw last ?? new Error('tor network did not start')
}

async function startOnce (options: StartOptions): Promise<TorNetwork> {
  const flavour = options.flavour ?? TOR_FLAVOUR
  const dir = await mkdtemp(join(tmpdir(), `beam-${flavour.name}-net-`))
  const children: ChildProcess[] = []
  const output: string[] = []
  const stop = async (): Promise<void> => {
    await Promise.all(children.map(async c => {
      if (c.exitCode != null || c.signalCode != null) return
      await new Promise<void>(resolve => {
        const t = setTimeout(() => { c.kill('SIGKILL') }, 3000)
        c.once('exit', () => { clearTimeout(t); resolve() })
        c.kill('SIGTERM')
      })
    }))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    const auths = await Promise.all([0, 1, 2].map(async i => ({ keys: await authorityKeys(i, flavour), orPort: await freePort(), dirPort: await freePort() })))
    const dirAuthLines = auths.map((a, i) => `DirAuthority auth${i} orport=${a.orPort} no-v2 v3ident=${a.keys.v3ident} 127.0.0.1:${a.dirPort} ${a.keys.fingerprint}`).join('\n') + '\n'
    const empty = await emptyTorrc()
    const start = Date.now()
    // authorities
    for (const [i, a] of auths.entries()) {
      const dataDir = join(dir, `auth${i}`)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      await cp(join(a.keys.dir, 'keys'), join(dataDir, 'keys'), { recursive: true })
      const torrc = commonTorrc(dataDir, flavour) + dirAuthLines + [
        `Nickname auth${i}`, 'Address 127.0.0.1', `ORPort 127.0.0.1:${a.orPort}`, `DirPort 127.0.0.1:${a.dirPort}`,
        'AuthoritativeDirectory 1', 'V3AuthoritativeDirectory 1', 'ContactInfo beam-test', 'ExitPolicy reject *:*',
        'AuthDirMaxServersPerAddr 0', 'SocksPort 0', ''
      ].join('\n')
      await writeFile(join(dir, `auth${i}.torrc`), torrc)
      children.push(startTor(join(dir, `auth${i}.torrc`), empty, output, flavour))
    }
    // relays
    for (let i = 0; i < 3; i++) {
      const dataDir = join(dir, `relay${i}`)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const orPort = await freePort()
      const torrc = commonTorrc(dataDir, flavour) + dirAuthLines + [
        `Nickname relay${i}`, 'Address 127.0.0.1', `ORPort 127.0.0.1:${orPort}`, 'ExitRelay 0', 'ExitPolicy reject *:*',
        'ContactInfo beam-test', 'SocksPort 0', ''
      ].join('\n')
      await writeFile(join(dir, `relay${i}.torrc`), torrc)
      children.push(startTor(join(dir, `relay${i}.torrc`), empty, output, flavour))
    }
    // clients
    const clients: TorClientInfo[] = []
    for (const [i, auth] of (options.clients ?? ['cookie', 'none']).entries()) {
      const dataDir = join(dir, `client${i}`)
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
      const socksPort = await freePort()
      const controlPort = await freePort()
      const password = auth === 'password' ? `beam-test-${i}` : undefined
      const authLines = auth === 'cookie'
        ? ['CookieAuthentication 1']
        : auth === 'password' ? [`HashedControlPassword ${await hashPassword(password ?? '', flavour)}`] : []
      const torrc = commonTorrc(dataDir, flavour) + dirAuthLines + [
        `SocksPort 127.0.0.1:${socksPort} ExtendedErrors`, `ControlPort 127.0.0.1:${controlPort}`, ...authLines, ''
      ].join('\n')
      await writeFile(join(dir, `client${i}.torrc`), torrc)
      const child = startTor(join(dir, `client${i}.torrc`), empty, output, flavour)
      children.push(child)
      clients.push({ name: `client${i}`, socksPort, controlPort, auth, ...(password != null ? { password } : {}), dataDir, pid: child.pid ?? 0 })
    }
    const deadline = Date.now() + (options.timeout ?? 90_000)
    for (const c of clients) await waitBootstrapped(c, deadline, children, output, flavour)
    const bootstrapMs = Date.now() - start
    const networkTorrc = commonTorrc('/unused', flavour).split('\n').filter(l => !/^(DataDirectory|Log|__OwningControllerProcess) /.test(l)).join('\n') + dirAuthLines
    return { dir, clients, bootstrapMs, networkTorrc, pids: children.map(c => c.pid ?? 0), stop }
  } catch (err) {
    await stop()
    throw err
  }
}

async function waitBootstrapped (c: TorClientInfo, deadline: number, children: ChildProcess[], output: string[], flavour: TorFlavour): Promise<void> {
  let last = ''
  while (Date.now() < deadline) {
    const dead = children.find(ch => ch.exitCode != null)
    if (dead != null) throw new Error(`a ${flavour.name} of the test network exited (${String(dead.exitCode)}):\n${output.join('').slice(-3000)}`)
    try {
      const ctl = await TorControl.connect({ port: c.controlPort, ...(c.password != null ? { password: c.password } : {}), timeout: 2000 })
      try {
        for (;;) {
          last = await ctl.getInfo('status/bootstrap-phase')
          if (/PROGRESS=100\b/.test(last)) return
          if (Date.now() >= deadline) break
          await new Promise(resolve => setTimeout(resolve, 250))
        }
      } finally {
        ctl.close()
      }
    } catch (err) {
      last = (err as Error).message
      await new Promise(resolve => setTimeout(resolve, 250))
    }
  }
  throw new Error(`${c.name} did not bootstrap in time; last: ${last}`)
}
