import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { ACCESS_SECRET_LENGTH } from '../../signaling/index.ts'
import { IdentityError } from '../errors.ts'

/** A fresh random access secret. */
export function newAccessSecret (): Uint8Array {
  return new Uint8Array(randomBytes(ACCESS_SECRET_LENGTH))
}

/**
 * The share's access secret, kept beside the identity (hex, mode 0600) so that
 * a restarted share accepts the connect strings it handed out before.
 * `rotate` replaces it, which invalidates every earlier connect string.
 */
export async function loadOrCreateAccessSecret (path: string, options: { rotate?: boolean } = {}): Promise<Uint8Array> {
  if (options.rotate !== true) {
    try {
      const text = (await readFile(path, 'utf8')).trim()
      if (!/^[0-9a-f]{64}$/.test(text)) {
        throw Object.assign(new IdentityError(`access secret file ${path} is corrupt (expected 64 hex digits)`, path), { kind: 'access-secret' as const })
      }
      return new Uint8Array(Buffer.from(text, 'hex'))
    } catch (err) {
      if (err instanceof IdentityError) throw err
      const code = (err as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') throw new IdentityError(`cannot read access secret file ${path} (${code ?? 'error'})`, path, err)
    }
  }
  const secret = newAccessSecret()
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await writeFile(path, Buffer.from(secret).toString('hex') + '\n', { mode: 0o600 })
    await chmod(path, 0o600)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new IdentityError(`cannot write access secret file ${path} (${code ?? 'error'})`, path, err)
  }
  return secret
}
