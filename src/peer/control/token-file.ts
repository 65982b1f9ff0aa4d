import { randomBytes, createHash, timingSafeEqual } from 'node:crypto'
import { constants as fsConstants } from 'node:fs'
import { lstat, open, rename, unlink, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { CONTROL_PROTOCOL } from './protocol.ts'
import { ControlSocketUnsafeError } from './errors.ts'

/**
 * The loopback control transport's token file, `<pid>.json` in the run
 * folder: where a process listens (127.0.0.1 and a random port) and the
 * token a client must send as its first line. Used where there are no unix
 * sockets (Windows), or when asked for.
 */
export interface ControlTokenFile {
  /** {@link CONTROL_PROTOCOL}. */
  protocol: string
  /** The process that wrote it. */
  pid: number
  /** Its control port on 127.0.0.1. */
  port: number
  /** The token: 64 hex digits (32 random bytes). */
  token: string
}

/** The file name of a process's token file. */
export const controlTokenFileName = (pid: number): string => `${pid}.json`

/** A token file is small; a bigger one is not beam's. */
const MAX_TOKEN_FILE = 4096

/** Whether owner and mode bits mean anything here (Windows keeps access in ACLs, not in these bits). */
const POSIX_MODES = process.platform !== 'win32'

/** A new random token (32 bytes, hex). */
export const newControlToken = (): string => randomBytes(32).toString('hex')

/** Whether `got` is `token`, in time that does not depend on where they differ. */
export function tokenMatches (got: string, token: string): boolean {
  // hashing gives equal lengths, so the comparison does not leak the length either
  const a = createHash('sha256').update(got).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b)
}

/** Write a token file atomically, mode 0600 (a temporary file beside it, then a rename). */
export async function writeControlTokenFile (path: string, content: ControlTokenFile): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await writeFile(tmp, JSON.stringify(content) + '\n', { mode: 0o600, flag: 'wx' })
    await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(() => {})
    throw err
  }
}

/**
 * Read a token file after checking it the way a control socket is checked:
 * its folder is this user's and not writable by others, and the file is a
 * regular file (not a link) of this user's that group and others cannot
 * read. Throws ControlSocketUnsafeError otherwise (or when it is not a token
 * file), and the fs error (ENOENT) when it is gone.
 */
export async function readControlTokenFile (path: string, uid: number): Promise<ControlTokenFile> {
  if (POSIX_MODES) {
    const dir = await lstat(dirname(path))
    if (dir.uid !== uid) throw new ControlSocketUnsafeError(`${dirname(path)} belongs to uid ${dir.uid}, not to this user (uid ${uid})`, path)
    if ((dir.mode & 0o022) !== 0) throw new ControlSocketUnsafeError(`${dirname(path)} is writable by other users (mode ${(dir.mode & 0o777).toString(8)})`, path)
  }
  // O_NOFOLLOW: a link is refused by open itself; the checks below look at what was opened
  const fh = await open(path, fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ELOOP') throw new ControlSocketUnsafeError(`${path} is a symbolic link`, path)
    throw err
  })
  try {
    const st = await fh.stat()
    if (!st.isFile()) throw new ControlSocketUnsafeError(`${path} is not a regular file`, path)
    if (POSIX_MODES) {
      if (st.uid !== uid) throw new ControlSocketUnsafeError(`${path} belongs to uid ${st.uid}, not to this user (uid ${uid})`, path)
      if ((st.mode & 0o077) !== 0) throw new ControlSocketUnsafeError(`${path} is open to other users (mode ${(st.mode & 0o777).toString(8)})`, path)
    }
    if (st.size > MAX_TOKEN_FILE) throw new ControlSocketUnsafeError(`${path} is not a beam control token file (${st.size} bytes)`, path)
    const buf = Buffer.alloc(MAX_TOKEN_FILE + 1)
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0)
    const parsed = parseTokenFile(buf.subarray(0, bytesRead).toString('utf8'))
    if (parsed == null) throw new ControlSocketUnsafeError(`${path} is not a ${CONTROL_PROTOCOL} token file`, path)
    return parsed
  } finally {
    await fh.close()
  }
}

function parseTokenFile (text: string): ControlTokenFile | undefined {
  try {
    const v = JSON.parse(text) as Partial<ControlTokenFile> | null
    if (v == null || typeof v !== 'object' || v.protocol !== CONTROL_PROTOCOL) return undefined
    if (!Number.isSafeInteger(v.pid) || !Number.isSafeInteger(v.port) || (v.port ?? 0) < 1 || (v.port ?? 0) > 65535) return undefined
    if (typeof v.token !== 'string' || !/^[0-9a-f]{64}$/.test(v.token)) return undefined
    return v as ControlTokenFile
  } catch {
    return undefined
  }
}

/** Whether a process with this pid exists (EPERM: it does, another user's). */
export function processExists (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
