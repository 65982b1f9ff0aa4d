/**
 * Secrets without argv. A process's command line is readable by every user
 * of the machine (`ps`, /proc/PID/cmdline); its environment and the files it
 * reads are not. So every value that carries a secret can be given three
 * ways, the same for each:
 *
 * - inline, as before (`beam connect beam…`, `--ice-server turn:u:p@h`,
 *   `--tor-password P`): visible in `ps`;
 * - from a file, `--connect-file FILE`, `--ice-server-file FILE`,
 *   `--tor-password-file FILE`, `--ator-password-file FILE`, where FILE `-`
 *   is standard input (and `beam connect -` is short for `--connect-file -`);
 * - from the environment: `BEAM_CONNECT`, `BEAM_ICE_SERVERS`,
 *   `BEAM_TOR_PASSWORD`, `BEAM_ATOR_PASSWORD`.
 *
 * An inline value or file given on the command line wins over the
 * environment; giving both an inline value and its file is a usage error.
 * Messages about such input name where it came from, never what it holds.
 */
import { readFile, stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { InvalidConnectStringError, InvalidTargetError } from '../peer/index.ts'
import { UsageError } from './exit-codes.ts'

/** Largest secret file or standard input read, in bytes (a connect string is under 1 KiB). */
export const MAX_SECRET_INPUT = 64 * 1024

/** What reading standard input needs: the stream (opened on first use) and the stop signal. */
export interface SecretInputIo {
  /** Standard input, opened only when a secret is read from it. @default none: `-` is refused */
  openStdin?: () => Readable
  env: NodeJS.ProcessEnv
  signal: AbortSignal
}

/** Streams already read: standard input holds one value, so `-` may be given once. */
const used = new WeakSet<object>()

/**
 * The text of a secret file, or of standard input for `-`, at most
 * {@link MAX_SECRET_INPUT} bytes. With `firstLine`, standard input is read up
 * to its first newline only (a person may type the value and press Enter).
 * Throws UsageError naming `flag` and the file, never the content.
 */
export async function readSecretInput (file: string, flag: string, io: SecretInputIo, options: { firstLine?: boolean } = {}): Promise<string> {
  if (file === '-') return await readStdin(flag, io, options.firstLine === true)
  try {
    const st = await stat(file)
    if (!st.isFile()) throw new UsageError(`${flag} ${file}: not a file`)
    if (st.size > MAX_SECRET_INPUT) throw new UsageError(`${flag} ${file}: ${st.size} bytes, more than a secret file holds (at most ${MAX_SECRET_INPUT})`)
    return await readFile(file, { encoding: 'utf8', signal: io.signal })
  } catch (err) {
    if (err instanceof UsageError || (err as Error).name === 'AbortError') throw err
    throw new UsageError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

async function readStdin (flag: string, io: SecretInputIo, firstLine: boolean): Promise<string> {
  const stream = io.openStdin?.()
  if (stream == null) throw new UsageError(`${flag} -: no standard input to read`)
  if (used.has(stream)) throw new UsageError(`${flag} -: standard input is already read for another value; give a file`)
  used.add(stream)
  io.signal.throwIfAborted()
  return await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (err: Error | undefined): void => {
      stream.off('data', onData)
      stream.off('end', onEnd)
      stream.off('error', onError)
      io.signal.removeEventListener('abort', onAbort)
      stream.pause()
      // nothing else reads standard input: let it go, so it holds no handle open
      stream.destroy()
      if (err != null) reject(err)
      else resolve(Buffer.concat(chunks).toString('utf8'))
    }
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      chunks.push(b)
      size += b.length
      if (size > MAX_SECRET_INPUT) { done(new UsageError(`${flag} -: more than ${MAX_SECRET_INPUT} bytes on standard input`)); return }
      if (firstLine && b.includes(0x0a)) done(undefined)
    }
    const onEnd = (): void => { done(undefined) }
    const onError = (err: Error): void => { done(new UsageError(`cannot read standard input for ${flag}: ${err.message}`)) }
    const onAbort = (): void => { done(io.signal.reason instanceof Error ? io.signal.reason : new Error('aborted')) }
    stream.on('data', onData)
    stream.once('end', onEnd)
    stream.once('error', onError)
    io.signal.addEventListener('abort', onAbort, { once: true })
    stream.resume()
  })
}

/** The first non-empty line, without its line break and surrounding white space. */
export function firstLineOf (text: string): string {
  return text.split(/\r?\n/).map(l => l.trim()).find(l => l !== '') ?? ''
}

/** A password file's value: its first line, exactly (spaces kept), without the line break. */
export function passwordOf (text: string): string {
  return text.split(/\r?\n/)[0] ?? ''
}

/** Non-empty lines that are not `#` comments, trimmed: one ICE server URL each. */
export function linesOf (text: string): string[] {
  return text.split(/\r?\n/).map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
}

/** The target of `beam connect` / `beam benchmark`, and where it came from. */
export interface TargetInput {
  text: string
  /**
   * Where the text came from when it was not the command line (`--connect-file
   * FILE`, `standard input`, `BEAM_CONNECT`): messages then must not repeat it.
   */
  source?: string
}

/**
 * The target: the argument (`-` reads standard input), `--connect-file FILE`,
 * or `BEAM_CONNECT`, in that order. Throws UsageError when there is none or
 * when both the argument and the file are given.
 */
export async function readTargetInput (arg: string | undefined, connectFile: string | undefined, io: SecretInputIo): Promise<TargetInput> {
  if (arg != null && connectFile != null) throw new UsageError('give the target as an argument or with --connect-file, not both')
  const file = arg === '-' ? '-' : connectFile
  if (file != null) {
    const text = firstLineOf(await readSecretInput(file, '--connect-file', io, { firstLine: true }))
    const source = file === '-' ? 'standard input' : `--connect-file ${file}`
    if (text === '') throw new UsageError(`${source} holds no connect string`)
    return { text, source }
  }
  if (arg != null) return { text: arg }
  const env = io.env.BEAM_CONNECT?.trim()
  if (env != null && env !== '') return { text: env, source: 'BEAM_CONNECT' }
  throw new UsageError('missing target: give a connect string, peer id, name.prefix or alias (or --connect-file FILE, - for standard input, or BEAM_CONNECT)')
}

/**
 * Run `resolve` on a target that came from a file, standard input or the
 * environment, turning its errors into ones that say where the target came
 * from instead of quoting it.
 */
export async function withHiddenTarget<T> (input: TargetInput, resolve: () => Promise<T>): Promise<T> {
  if (input.source == null) return await resolve()
  try {
    return await resolve()
  } catch (err) {
    // a connect string's own errors name a problem, never the text (at most one bad character)
    if (err instanceof InvalidConnectStringError) throw new InvalidConnectStringError(err.reason, `the target from ${input.source}: ${err.message}`)
    if (err instanceof InvalidTargetError) throw new InvalidTargetError(`the target from ${input.source} is neither a peer id nor a beam connect string, nor a name.prefix or alias`)
    throw err
  }
}

/** Flags with a password that may come from a file or the environment instead. */
export interface PasswordFlags {
  torPassword?: string
  torPasswordFile?: string
  atorPassword?: string
  atorPasswordFile?: string
}

/**
 * `--tor-password` / `--tor-password-file` / `BEAM_TOR_PASSWORD` (the same
 * for ATOR) resolved to `torPassword` / `atorPassword`.
 */
export async function resolvePasswordFlags<F extends PasswordFlags> (flags: F, io: SecretInputIo): Promise<F> {
  const out: F = { ...flags }
  for (const [key, fileKey, flag, env] of [['torPassword', 'torPasswordFile', '--tor-password', 'BEAM_TOR_PASSWORD'], ['atorPassword', 'atorPasswordFile', '--ator-password', 'BEAM_ATOR_PASSWORD']] as const) {
    const file = flags[fileKey]
    if (file != null) {
      if (flags[key] != null) throw new UsageError(`give ${flag} or ${flag}-file, not both`)
      const password = passwordOf(await readSecretInput(file, `${flag}-file`, io, { firstLine: true }))
      if (password === '') throw new UsageError(`${flag}-file ${file}: the first line is empty`)
      out[key] = password
    } else if (flags[key] == null) {
      const fromEnv = io.env[env]
      if (fromEnv != null && fromEnv !== '') out[key] = fromEnv
    }
    delete out[fileKey]
  }
  return out
}
