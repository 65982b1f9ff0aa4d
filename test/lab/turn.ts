/**
 * A TURN server (Debian's coturn) inside a lab host, with a config generated
 * here: it listens on the host's lab address only, relays only to the lab's
 * public segment, knows one user, and reads no file of the system (never the
 * packaged /etc/turnserver.conf). Killed by the lab's teardown (lab.spawn).
 * `startStun` runs the same coturn as a STUN-only server (the lab's stand-in
 * for a public STUN server).
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lab } from './netlab.ts'
import { PUBLIC_NET } from './netlab.ts'

export interface LabTurn {
  /** ICE server URL (with credentials for TURN), as `--ice-server` takes it. */
  url: string
  stop: () => Promise<void>
}

export function turnAvailable (): { ok: boolean, reason?: string } {
  for (const dir of ['/usr/bin', '/usr/sbin', '/usr/local/bin']) {
    if (existsSync(join(dir, 'turnserver'))) return { ok: true }
  }
  return { ok: false, reason: 'turnserver (Debian package coturn) is not installed; run scripts/install-test-deps.sh as root' }
}

export async function startTurn (lab: Lab, host: string, options: { port?: number, user?: string, password?: string } = {}): Promise<LabTurn> {
  const h = lab.hosts[host]
  if (h == null) throw new Error(`no lab host ${host}`)
  const port = options.port ?? 3479
  const user = options.user ?? 'beam'
  const password = options.password ?? 'lab-only-secret'
  const stop = await runCoturn(lab, host, port, [
    `relay-ip=${h.ip}`,
    'min-port=49152',
    'max-port=49407',
    'lt-cred-mech',
    `user=${user}:${password}`,
    'realm=beam.lab',
    'no-tcp-relay',
    // relay only between lab hosts on the public segment
    `allowed-peer-ip=${PUBLIC_NET}.0-${PUBLIC_NET}.255`,
    'no-multicast-peers'
  ])
  return { url: `turn:${user}:${password}@${h.ip}:${port}`, stop }
}

/**
 * A public STUN server and nothing else (coturn's `stun-only`: every TURN
 * request is ignored), as the public internet offers: the lab's stand-in for
 * the STUN servers WebRTC applications use.
 */
export async function startStun (lab: Lab, host: string, options: { port?: number } = {}): Promise<LabTurn> {
  const h = lab.hosts[host]
  if (h == null) throw new Error(`no lab host ${host}`)
  const port = options.port ?? 3478
  const stop = await runCoturn(lab, host, port, ['stun-only'])
  return { url: `stun:${h.ip}:${port}`, stop }
}

/** coturn with a generated config (listening on the host's lab address only) plus `extra` lines; resolves once its UDP port is bound. */
async function runCoturn (lab: Lab, host: string, port: number, extra: string[]): Promise<() => Promise<void>> {
  const h = lab.hosts[host]
  if (h == null) throw new Error(`no lab host ${host}`)
  const dir = await mkdtemp(join(tmpdir(), 'beam-turn-'))
  const conf = join(dir, 'turnserver.conf')
  await writeFile(conf, [
    `listening-ip=${h.ip}`,
    `listening-port=${port}`,
    ...extra,
    'no-tls',
    'no-dtls',
    'no-cli',
    `pidfile=${join(dir, 'turnserver.pid')}`,
    'log-file=stdout',
    'simple-log',
    ''
  ].join('\n'))
  const child = lab.spawn(host, ['turnserver', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => { out += s })
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { out += s })
  // ready once the UDP port is bound (bounded wait)
  const deadline = Date.now() + 10_000
  for (;;) {
    const r = await lab.exec(host, ['ss', '-ulnH', `sport = :${port}`], { timeoutMs: 5000 })
    if (r.stdout.trim() !== '') break
    if (child.exitCode != null) throw new Error(`turnserver exited (${child.exitCode}): ${out.slice(-2000)}`)
    if (Date.now() > deadline) throw new Error(`turnserver not listening on ${h.ip}:${port} within 10 s: ${out.slice(-2000)}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return async () => {
    if (child.exitCode == null) child.kill('SIGTERM')
    await rm(dir, { recursive: true, force: true })
  }
}
