/**
 * `--tor-launch`: run Debian's tor for beam, for users who run no tor daemon.
 * The torrc is generated here (never the packaged one): SOCKS and control
 * ports on 127.0.0.1 picked by tor, cookie auth, a private DataDirectory in
 * the beam home, and `__OwningControllerProcess` so that tor exits with beam.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { access, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { constants as fsConstants } from 'node:fs'
import { join } from 'node:path'
import type { BackendLogger as Logger } from '../backend.ts'
import { TorControl } from './control.ts'
import { TorLaunchError } from './errors.ts'

/** Where tor is looked for when no path is given. */
export const TOR_CANDIDATES = ['/usr/sbin/tor', '/usr/bin/tor', '/usr/local/bin/tor', '/usr/local/sbin/tor', '/opt/homebrew/bin/tor']

/** The first executable tor binary among `candidates`, or undefined. */
export async function findTor (candidates: string[] = TOR_CANDIDATES): Promise<string | undefined> {
  for (const c of candidates) {
    try {
      await access(c, fsConstants.X_OK)
      return c
    } catch {}
  }
  return undefined
}

export interface LaunchOptions {
  /** Folder for tor's DataDirectory and generated torrc (created 0700). */
  dataDir: string
  /** The tor binary. @default the first of TOR_CANDIDATES that exists */
  torBinary?: string
  /** Extra torrc lines (e.g. a private test network's DirAuthority lines). @default '' */
  extraTorrc?: string
  /** The pid tor watches: it exits when that process does. @default unset */
  ownerPid?: number
  /** How long to wait for tor to bootstrap, in ms. @default 120000 */
  timeout?: number
  /** torrc lines the binary needs before any other (ATOR's `AgreeToTerms 1`). @default [] */
  requiredTorrc?: string[]
  /** Pass an empty `--defaults-torrc` (keeps a packaged default torrc out); ATOR's anon aborts on it. @default true */
  defaultsTorrc?: boolean
  /** Name of the program in messages and logs. @default 'tor' */
  label?: string
  /** What to tell a user who has no binary. @default 'install tor (apt install tor)' */
  installHint?: string
  log?: Logger
  signal?: AbortSignal
}

export interface LaunchedTor {
  socksPort: number
  controlPort: number
  pid: number
  stop: () => Promise<void>
}

async function readPortFile (file: string): Promise<number | undefined> {
  try {
    const text = await readFile(file, 'utf8')
    const m = /PORT=127\.0\.0\.1:(\d+)/.exec(text)
    return m?.[1] != null ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Start tor and wait until it has bootstrapped (100 %). */
export async function launchTor (options: LaunchOptions): Promise<LaunchedTor> {
  const label = options.label ?? 'tor'
  const bin = options.torBinary ?? await findTor()
  if (bin == null) throw new TorLaunchError(`launching ${label}: no ${label} binary found (looked in ${TOR_CANDIDATES.join(', ')}); ${options.installHint ?? 'install tor (apt install tor)'}`)
  const log = options.log?.child({ component: `${label}-launch` })
  const dataDir = options.dataDir
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const portFile = join(dataDir, 'control-port')
  await rm(portFile, { force: true })
  const torrc = [
    ...(options.requiredTorrc ?? []),
    `DataDirectory ${dataDir}`,
    'SocksPort 127.0.0.1:auto ExtendedErrors',
    'ControlPort 127.0.0.1:auto',
    `ControlPortWriteToFile ${portFile}`,
    'CookieAuthentication 1',
    `CookieAuthFile ${join(dataDir, 'control.authcookie')}`,
    'RunAsDaemon 0',
    'ClientOnly 1',
    'AvoidDiskWrites 1',
    `Log notice file ${join(dataDir, 'notice.log')}`,
    ...(options.ownerPid != null ? [`__OwningControllerProcess ${options.ownerPid}`] : []),
    options.extraTorrc ?? '',
    ''
  ].join('\n')
  const torrcPath = join(dataDir, 'torrc')
  const defaults = join(dataDir, 'torrc-defaults')
  await writeFile(torrcPath, torrc, { mode: 0o600 })
  const withDefaults = options.defaultsTorrc ?? true
  if (withDefaults) await writeFile(defaults, '', { mode: 0o600 })
  const child: ChildProcess = spawn(bin, [...(withDefaults ? ['--defaults-torrc', defaults] : []), '-f', torrcPath], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr = (stderr + s).slice(-2000) })
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  const stop = async (): Promise<void> => {
    if (child.exitCode != null || child.signalCode != null) return
    const t = setTimeout(() => { child.kill('SIGKILL') }, 3000)
    child.kill('SIGTERM')
    await exited
    clearTimeout(t)
  }
  log?.info({ pid: child.pid, dataDir }, `started ${label} (pid ${child.pid ?? '?'}); waiting for it to bootstrap`)
  const deadline = AbortSignal.any([AbortSignal.timeout(options.timeout ?? 120_000), ...(options.signal != null ? [options.signal] : [])])
  try {
    let controlPort: number | undefined
    let lastPhase = ''
    while (!deadline.aborted) {
      if (child.exitCode != null) throw new TorLaunchError(`${label} exited at start (code ${child.exitCode}): ${stderr.trim().split('\n').pop() ?? ''} (see ${join(dataDir, 'notice.log')})`)
      controlPort ??= await readPortFile(portFile)
      if (controlPort != null) {
        const ctl = await TorControl.connect({ port: controlPort, timeout: 5000, signal: deadline })
        try {
          for (;;) {
            const phase = await ctl.getInfo('status/bootstrap-phase')
            const progress = /PROGRESS=(\d+)/.exec(phase)?.[1]
            if (phase !== lastPhase) log?.debug({ phase }, `${label} bootstrap ${progress ?? '?'} %`)
            lastPhase = phase
            if (progress === '100') {
              const socks = await ctl.getInfo('net/listeners/socks')
              const socksPort = Number(/127\.0\.0\.1:(\d+)/.exec(socks)?.[1] ?? 'NaN')
              if (!Number.isInteger(socksPort)) throw new TorLaunchError(`launched ${label} reports no SOCKS port (${socks})`)
              log?.info({ socksPort, controlPort }, `${label} is ready`)
              return { socksPort, controlPort, pid: child.pid ?? 0, stop }
            }
            if (deadline.aborted) break
            await new Promise(resolve => setTimeout(resolve, 250))
          }
        } finally {
          ctl.close()
        }
      }
      await new Promise(resolve => setTimeout(resolve, 100))
    }
    throw new TorLaunchError(`the launched ${label} did not bootstrap in time (last: ${lastPhase || 'no control port yet'})`)
  } catch (err) {
    await stop()
    throw err
  }
}
