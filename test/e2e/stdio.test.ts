/**
 * `beam connect --stdio`: one tunnel on standard input and output, as an SSH
 * ProxyCommand. A real sshd on 127.0.0.1 (keys and config generated for the
 * run) is shared with `beam share`; a real ssh client reaches it through
 * `ProxyCommand='beam connect %h --stdio'` with %h an alias, the recipe of
 * docs/recipes.md.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { open, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BEAM_BIN, BeamProcess, OFFLINE, runBeam, startShare, tempHome } from '../helpers/beam.ts'
import { startTcpService } from '../helpers/services.ts'
import { decodeConnectString, encodeConnectString } from '../../src/peer/discovery/index.ts'
import { suiteNeeds } from '../helpers/require-tools.ts'
import { findTool, sshNeeds, startSshd } from '../helpers/sshd.ts'
import type { TestSshd } from '../helpers/sshd.ts'

/** Run a command with stdin from `input` (a file) or nothing; killed after `timeoutMs`. */
async function runWith (cmd: string, args: string[], env: Record<string, string>, input: string | undefined, timeoutMs: number): Promise<{ code: number | null, stdout: Buffer, stderr: string }> {
  const stdin = input != null ? await open(input, 'r') : undefined
  try {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: [stdin?.fd ?? 'ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout?.on('data', (b: Buffer) => { out.push(b) })
    child.stderr?.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    const code = await new Promise<number | null>(resolve => { child.on('close', c => { resolve(c) }) })
    clearTimeout(timer)
    return { code, stdout: Buffer.concat(out), stderr }
  } finally {
    await stdin?.close()
  }
}

const beamCommand = `'${process.execPath}' '${BEAM_BIN}'`

describe('beam connect --stdio (without ssh)', () => {
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let share: BeamProcess
  let connect = ''
  let service: Awaited<ReturnType<typeof startTcpService>>

  beforeAll(async () => {
    // answers "<bytes> <sha256>\n" after the client's EOF: the half-close must cross the tunnel
    service = await startTcpService(s => {
      const h = createHash('sha256')
      let n = 0
      s.on('data', (c: Buffer) => { h.update(c); n += c.length })
      s.on('end', () => { s.end(`${n} ${h.digest('hex')}\n`) })
    })
    shareHome = await tempHome()
    connectHome = await tempHome()
    const s = await startShare([String(service.port)], shareHome.dir)
    share = s.proc
    connect = s.connect
  }, 60_000)

  afterAll(async () => {
    await share?.stop()
    await service?.close()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('carries standard input to the service and its answer to standard output; logs only on stderr', async () => {
    const file = join(connectHome.dir, 'input.bin')
    const data = randomBytes(3 * 1024 * 1024 + 17)
    await writeFile(file, data)
    const r = await runWith(process.execPath, [BEAM_BIN, 'connect', connect, '--stdio', ...OFFLINE, '--no-dht'], { BEAM_HOME: connectHome.dir, BEAM_LOG_LEVEL: 'info' }, file, 60_000)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.toString()).toBe(`${data.length} ${createHash('sha256').update(data).digest('hex')}\n`)
    expect(r.stderr).toMatch(/on standard input and output/)
  }, 90_000)

  it('bad input gets one line and its exit code', async () => {
    const env = { BEAM_HOME: connectHome.dir }
    const json = await runBeam(['connect', connect, '--stdio', '--json', ...OFFLINE], env)
    expect(json.code).toBe(2)
    expect(json.stderr.trim().split('\n')).toHaveLength(1)
    expect(json.stderr).toMatch(/--stdio .*drop --json/)
    const port = await runBeam(['connect', connect, '--stdio', '--port', '9999', ...OFFLINE], env)
    expect(port.code).toBe(2)
    const dash = await runBeam(['connect', '-', '--stdio', ...OFFLINE], env)
    expect(dash.code).toBe(2)
    expect(dash.stderr).toMatch(/cannot be read from it/)
    // a wrong secret: refused before any byte is carried (exit 10)
    const wrong = encodeConnectString({ ...decodeConnectString(connect), secret: randomBytes(32) })
    const alien = await runBeam(['connect', wrong, '--stdio', ...OFFLINE, '--no-dht', '--log-level', 'silent'], env)
    expect(alien.code, alien.stderr).toBe(10)
    expect(alien.stderr.trim().split('\n')).toHaveLength(1)
  }, 90_000)
})

const skipSsh = suiteNeeds('SSH ProxyCommand tests', sshNeeds())

describe.skipIf(skipSsh)('ssh -o ProxyCommand=\'beam connect %h --stdio\' through a real sshd', () => {
  let sshd: TestSshd
  let dir: Awaited<ReturnType<typeof tempHome>>
  let shareHome: Awaited<ReturnType<typeof tempHome>>
  let connectHome: Awaited<ReturnType<typeof tempHome>>
  let share: BeamProcess

  beforeAll(async () => {
    dir = await tempHome()
    shareHome = await tempHome()
    connectHome = await tempHome()
    sshd = await startSshd(join(dir.dir, 'sshd'))
    const s = await startShare([String(sshd.port)], shareHome.dir)
    share = s.proc
    const add = await runBeam(['alias', 'add', 'sshbox', s.connect], { BEAM_HOME: connectHome.dir })
    expect(add.code).toBe(0)
  }, 60_000)

  afterAll(async () => {
    await share?.stop()
    await sshd?.stop()
    await dir?.cleanup()
    await shareHome?.cleanup()
    await connectHome?.cleanup()
  })

  it('runs a command over SSH and carries 2 MiB each way intact', async () => {
    const file = join(dir.dir, 'payload.bin')
    const data = randomBytes(2 * 1024 * 1024)
    await writeFile(file, data)
    const args = [
      '-F', '/dev/null',
      '-o', `ProxyCommand=${beamCommand} connect %h --stdio --no-default-bootstrap --no-dht`,
      '-o', 'StrictHostKeyChecking=no',
      '-o', 'UserKnownHostsFile=/dev/null',
      '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=30',
      '-i', sshd.key,
      `${sshd.user}@sshbox`,
      'echo ok; sha256sum; head -c 2097152 /dev/zero | sha256sum'
    ]
    const r = await runWith(findTool('ssh') ?? 'ssh', args, { BEAM_HOME: connectHome.dir, BEAM_LOG_LEVEL: 'warn' }, file, 90_000)
    expect(r.code, r.stderr).toBe(0)
    const zeros = createHash('sha256').update(Buffer.alloc(2 * 1024 * 1024)).digest('hex')
    expect(r.stdout.toString()).toBe(`ok\n${createHash('sha256').update(data).digest('hex')}  -\n${zeros}  -\n`)
    // the share saw the tunnel open and close
    await share.waitFor('tunnel-close', 10_000)
  }, 120_000)
})
