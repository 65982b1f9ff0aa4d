/**
 * Secrets without argv: the connect string, TURN credentials and Tor/ATOR
 * control passwords read from a file, standard input (`-`) or the
 * environment parse into the same settings as their inline forms, and
 * messages about them never repeat what they hold.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterAll, describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { readTargetInput, resolvePasswordFlags, withHiddenTarget, MAX_SECRET_INPUT } from '../../../src/cli/secret-input.ts'
import { createContext, parseIceServer } from '../../../src/cli/context.ts'
import { nodeSettings } from '../../../src/cli/settings/index.ts'
import type { CliIo } from '../../../src/cli/context.ts'
import { runCli } from '../../../src/cli/program.ts'
import { ExitCode } from '../../../src/cli/exit-codes.ts'
import { encodeConnectString, parseTarget } from '../../../src/peer/index.ts'
import { multiaddr } from '@multiformats/multiaddr'
import { guardEnv } from '../../helpers/guard.ts'

const dirs: string[] = []
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }) })
function dir (): string {
  const d = mkdtempSync(join(tmpdir(), 'beam-secret-in-'))
  dirs.push(d)
  return d
}
function file (text: string): string {
  const p = join(dir(), 'secret')
  writeFileSync(p, text, { mode: 0o600 })
  return p
}

/** An io whose standard input yields `chunks` (then ends, unless `keepOpen`). */
function io (env: Record<string, string> = {}, chunks: string[] = [], keepOpen = false): CliIo & { stdinOpened: () => boolean } {
  let opened = false
  const stdin = new PassThrough()
  for (const c of chunks) stdin.write(c)
  if (!keepOpen) stdin.end()
  return {
    stdout: { write: () => true },
    stderr: { write: () => true },
    env: { ...guardEnv(), BEAM_HOME: dir(), ...env },
    signal: AbortSignal.timeout(10_000),
    stderrIsTTY: false,
    openStdin: () => { opened = true; return stdin },
    stdinOpened: () => opened
  }
}

async function connectString (): Promise<string> {
  const peerId = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  return encodeConnectString({ peerId, multiaddrs: [multiaddr('/ip4/127.0.0.1/tcp/4001')], secret: new Uint8Array(32).fill(7) })
}

describe('the target from a file, standard input or BEAM_CONNECT', () => {
  it('reads the same connect string as the argument form', async () => {
    const cs = await connectString()
    const inline = parseTarget(cs)
    const fromFile = await readTargetInput(undefined, file(`\n  ${cs}  \nignored second line\n`), io())
    const viaStdin = io({}, [cs.slice(0, 20), `${cs.slice(20)}\r\n`, 'rest'], true)
    const fromStdin = await readTargetInput('-', undefined, viaStdin)
    const fromEnv = await readTargetInput(undefined, undefined, io({ BEAM_CONNECT: ` ${cs}\n` }))
    for (const got of [fromFile, fromStdin, fromEnv]) {
      expect(got.text).toBe(cs)
      const t = parseTarget(got.text)
      expect(t.peerId.equals(inline.peerId)).toBe(true)
      expect(t.secret).toEqual(inline.secret)
    }
    expect(fromFile.source).toMatch(/^--connect-file /)
    expect(fromStdin.source).toBe('standard input')
    expect(fromEnv.source).toBe('BEAM_CONNECT')
    // `--connect-file -` is the same as `-`
    expect((await readTargetInput(undefined, '-', io({}, [`${cs}\n`]))).text).toBe(cs)
  })

  it('the argument wins over BEAM_CONNECT; stdin is opened only for -', async () => {
    const i = io({ BEAM_CONNECT: 'beamfromenv' })
    expect(await readTargetInput('12D3KooWarg', undefined, i)).toEqual({ text: '12D3KooWarg' })
    expect(i.stdinOpened()).toBe(false)
  })

  it('refuses both an argument and --connect-file, no target at all, an empty input, a second use of stdin, too much input', async () => {
    await expect(readTargetInput('x', file('y'), io())).rejects.toThrow(/argument or with --connect-file, not both/)
    await expect(readTargetInput('-', '-', io())).rejects.toThrow(/not both/)
    await expect(readTargetInput(undefined, undefined, io())).rejects.toMatchObject({ name: 'UsageError', message: expect.stringMatching(/^missing target/) })
    await expect(readTargetInput(undefined, file('\n\n'), io())).rejects.toThrow(/holds no connect string/)
    await expect(readTargetInput('-', undefined, io({}, []))).rejects.toThrow(/standard input holds no connect string/)
    await expect(readTargetInput(undefined, join(dir(), 'missing'), io())).rejects.toMatchObject({ name: 'UsageError', message: expect.stringMatching(/ENOENT/) })
    await expect(readTargetInput(undefined, file('x'.repeat(MAX_SECRET_INPUT + 1)), io())).rejects.toThrow(/at most/)
    const twice = io({}, ['a\n'])
    await readTargetInput('-', undefined, twice)
    await expect(readTargetInput('-', undefined, twice)).rejects.toThrow(/already read/)
    const noStdin = { ...io(), openStdin: undefined }
    await expect(readTargetInput('-', undefined, noStdin)).rejects.toThrow(/no standard input/)
  })

  it('errors about a target from a file or the environment do not quote it', async () => {
    const secretLooking = 'not-a-peer-SECRETSECRET'
    for (const input of [{ text: secretLooking, source: '--connect-file f' }, { text: `beam${'!'.repeat(5)}SECRET`, source: 'BEAM_CONNECT' }]) {
      const err = await withHiddenTarget(input, async () => parseTarget(input.text)).catch((e: unknown) => e as Error)
      expect(err).toBeInstanceOf(Error)
      expect(['InvalidTargetError', 'InvalidConnectStringError']).toContain((err as Error).name)
      expect((err as Error).message).toContain(input.source)
      expect((err as Error).message).not.toContain('SECRET')
    }
    // from the command line, the message still shows what was typed
    await expect(withHiddenTarget({ text: 'typed-here' }, async () => parseTarget('typed-here'))).rejects.toThrow(/typed-here/)
  })
})

describe('TURN credentials from --ice-server-file', () => {
  const flags = { ephemeral: true, defaultBootstrap: false }
  const urls = ['turn:us%3Aer:p%40ss@127.0.0.1:3478', 'stun:127.0.0.1:3479']

  async function iceOf (f: Record<string, unknown>, i: CliIo): Promise<unknown> {
    const settings = await nodeSettings({ ...flags, ...f }, i, createContext({ logLevel: 'silent' }, i).log)
    return settings.iceServers
  }

  it('gives the same ICE servers as --ice-server, from a file and from standard input', async () => {
    const inline = await iceOf({ iceServer: urls }, io())
    expect(inline).toEqual([{ urls: 'turn:127.0.0.1:3478', username: 'us:er', credential: 'p@ss' }, { urls: 'stun:127.0.0.1:3479' }])
    expect(await iceOf({ iceServerFile: file(`# my TURN server\n${urls[0] ?? ''}\n\n  ${urls[1] ?? ''}\n`) }, io())).toEqual(inline)
    expect(await iceOf({ iceServerFile: '-' }, io({}, [urls.join('\n')]))).toEqual(inline)
    // BEAM_ICE_SERVERS still works, and a file replaces it as --ice-server does
    expect(await iceOf({}, io({ BEAM_ICE_SERVERS: urls.join(',') }))).toEqual(inline)
    expect(await iceOf({ iceServerFile: file(urls[1] ?? '') }, io({ BEAM_ICE_SERVERS: urls[0] ?? '' }))).toEqual([{ urls: 'stun:127.0.0.1:3479' }])
    // the flag and the file add up
    expect(await iceOf({ iceServer: [urls[0]], iceServerFile: file(urls[1] ?? '') }, io())).toEqual(inline)
  })

  it('refuses an empty file; a bad entry is reported without its password', async () => {
    await expect(iceOf({ iceServerFile: file('# nothing\n') }, io())).rejects.toThrow(/lists no server/)
    await expect(iceOf({ iceServerFile: file('turm:me:hunter2@127.0.0.1:3478\n') }, io())).rejects.toSatisfy((e: Error) => e.name === 'InvalidMultiaddrError' && !e.message.includes('hunter2'))
    expect(() => parseIceServer('turnx:me:hunter2@h:1')).toThrow(/\*\*\*@h:1/)
  })
})

describe('Tor and ATOR control passwords from a file or the environment', () => {
  it('parse into the same flags as --tor-password / --ator-password', async () => {
    const pw = 'correct horse battery staple '
    const inline = await resolvePasswordFlags({ torPassword: pw, atorPassword: pw }, io())
    expect(inline).toEqual({ torPassword: pw, atorPassword: pw })
    const p = file(`${pw}\nsecond line ignored\n`)
    expect(await resolvePasswordFlags({ torPasswordFile: p, atorPasswordFile: p }, io())).toEqual(inline)
    expect(await resolvePasswordFlags({ torPasswordFile: '-' }, io({}, [`${pw}\r\n`]))).toEqual({ torPassword: pw })
    expect(await resolvePasswordFlags({}, io({ BEAM_TOR_PASSWORD: pw, BEAM_ATOR_PASSWORD: pw }))).toEqual(inline)
    // a file given on the command line wins over the environment
    expect(await resolvePasswordFlags({ torPasswordFile: file('from-file\n') }, io({ BEAM_TOR_PASSWORD: 'from-env' }))).toEqual({ torPassword: 'from-file' })
  })

  it('refuses both forms at once and an empty first line, naming the file only', async () => {
    await expect(resolvePasswordFlags({ torPassword: 'a', torPasswordFile: file('b') }, io())).rejects.toThrow(/give --tor-password or --tor-password-file, not both/)
    await expect(resolvePasswordFlags({ atorPassword: 'a', atorPasswordFile: file('b') }, io())).rejects.toThrow(/--ator-password or --ator-password-file/)
    const empty = file('\nhunter2\n')
    await expect(resolvePasswordFlags({ torPasswordFile: empty }, io())).rejects.toSatisfy((e: Error) => e.message.includes(empty) && !e.message.includes('hunter2'))
  })

  it('the CLI reads --tor-password-file (a usage error without the tor backend, exit 2, nothing quoted)', async () => {
    let stderr = ''
    const i = { ...io(), stderr: { write: (s: string) => { stderr += s; return true } } }
    const code = await runCli(['share', '1', '--tor-password-file', file('hunter2\n'), '--no-default-bootstrap', '--log-level', 'silent'], i)
    expect(code).toBe(ExitCode.USAGE)
    expect(stderr).toMatch(/--tor-\* options need the tor backend/)
    expect(stderr).not.toContain('hunter2')
  })
})
