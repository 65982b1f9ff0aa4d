/**
 * A throwaway OpenSSH server on 127.0.0.1 for the `beam connect --stdio`
 * tests: host and user keys generated into a temporary directory, a config
 * written there, `sshd -D` on a free port, killed by pid.
 */
import { spawn, execFile } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { mkdir, writeFile, readFile, chmod } from 'node:fs/promises'
import { join } from 'node:path'
import { userInfo } from 'node:os'
import { promisify } from 'node:util'
import { createConnection } from 'node:net'
import { freePort } from './services.ts'
import { need } from './require-tools.ts'
import type { Need } from './require-tools.ts'

const run = promisify(execFile)

/** Tools live in sbin, which a non-login PATH may lack. */
const TOOL_DIRS = [...(process.env.PATH ?? '').split(':').filter(d => d !== ''), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']

/** Absolute path of a tool, or undefined. */
export function findTool (name: string): string | undefined {
  for (const dir of TOOL_DIRS) {
    try {
      accessSync(join(dir, name), constants.X_OK)
      return join(dir, name)
    } catch { /* next */ }
  }
  return undefined
}

/** What the SSH tests need: sshd, ssh and ssh-keygen (Debian openssh-server and openssh-client). */
export function sshNeeds (): Need[] {
  return ['sshd', 'ssh', 'ssh-keygen'].map(t => need(findTool(t) != null, `'${t}' not found in PATH or sbin (scripts/install-test-deps.sh installs openssh-server and openssh-client)`))
}

export interface TestSshd {
  port: number
  user: string
  /** The user's private key (ssh -i). */
  key: string
  stop: () => Promise<void>
}

/** Start sshd on 127.0.0.1 with keys and config in `dir` (which the caller removes). */
export async function startSshd (dir: string): Promise<TestSshd> {
  const sshd = findTool('sshd') ?? 'sshd'
  const keygen = findTool('ssh-keygen') ?? 'ssh-keygen'
  await mkdir(dir, { recursive: true })
  const hostKey = join(dir, 'host_ed25519')
  const key = join(dir, 'user_ed25519')
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey])
  await run(keygen, ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  const authorized = join(dir, 'authorized_keys')
  await writeFile(authorized, await readFile(`${key}.pub`))
  await chmod(authorized, 0o600)
  // sshd (as root) wants its privilege separation directory
  if (process.getuid?.() === 0) await mkdir('/run/sshd', { recursive: true, mode: 0o755 })
  const config = join(dir, 'sshd_config')
  await writeFile(config, [
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${authorized}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PubkeyAuthentication yes',
    'PermitRootLogin prohibit-password',
    'AllowTcpForwarding no',
    'X11Forwarding no',
    'PrintMotd no',
    'LogLevel VERBOSE',
    ''
  ].join('\n'))
  const port = await freePort()
  const child: ChildProcess = spawn(sshd, ['-D', '-e', '-f', config, '-p', String(port), '-o', 'ListenAddress=127.0.0.1'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr?.setEncoding('utf8').on('data', (s: string) => { log += s })
  const exited = new Promise<void>(resolve => { child.on('exit', () => { resolve() }) })
  // up when it accepts a connection (bounded: 10 s)
  const deadline = Date.now() + 10_000
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const s = createConnection({ host: '127.0.0.1', port }, () => { s.destroy(); resolve(true) })
      s.on('error', () => { resolve(false) })
    })
    if (ok) break
    if (child.exitCode != null || Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`sshd did not start on 127.0.0.1:${port}: ${log.slice(-2000)}`)
    }
    await new Promise(resolve => setTimeout(resolve, 100))
  }
  return {
    port,
    user: userInfo().username,
    key,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGTERM')
        await exited
      }
    }
  }
}
