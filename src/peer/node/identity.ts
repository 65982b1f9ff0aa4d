import { chmod, mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from 'node:crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { IdentityError } from '../errors.ts'

/** Format version of the identity file. */
export const IDENTITY_FILE_VERSION = 1

/** The identity file: JSON, mode 0600. */
interface IdentityFile {
  version: number
  type: 'Ed25519'
  peerId: string
  /** libp2p protobuf encoding of the private key, base64. */
  privateKey: string
}

/** What {@link loadOrCreateIdentity} returns. */
export interface LoadedIdentity {
  /** The node's key; pass it as {@link BeamInit.privateKey}. */
  privateKey: PrivateKey
  /** The key file. */
  path: string
  /** True when the key was made just now. */
  created: boolean
}

/** Permission bits of group and others: any of them set opens a private file or folder to other users. */
export const OPEN_TO_OTHERS = 0o077

/** A private file or folder that other users may read (or write or enter). */
export interface ExposedPath {
  /** The file or folder. */
  path: string
  /** Its permission bits (e.g. 0o644). */
  mode: number
  /** Whether it is a folder. */
  directory: boolean
}

/**
 * Whether `path` (an identity, an access secret, the state folder) grants
 * any permission to its group or to others; undefined when it does not, when
 * it does not exist, or on Windows, where mode bits say nothing.
 */
export async function exposedToOthers (path: string): Promise<ExposedPath | undefined> {
  if (process.platform === 'win32') return undefined
  try {
    const st = await stat(path)
    const mode = st.mode & 0o777
    return (mode & OPEN_TO_OTHERS) !== 0 ? { path, mode, directory: st.isDirectory() } : undefined
  } catch {
    return undefined
  }
}

/** Create an Ed25519 key that lives only in memory. */
export async function ephemeralIdentity (): Promise<PrivateKey> {
  return await generateKeyPair('Ed25519')
}

/**
 * Read the identity at `path`, or create it (directory 0700, file 0600) when
 * there is none. A file that exists but cannot be read or parsed is an error:
 * it is never overwritten, as that would change the peer id.
 */
export async function loadOrCreateIdentity (path: string): Promise<LoadedIdentity> {
  let text: string | undefined
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') {
      throw new IdentityError(`cannot read identity file ${path} (${code ?? 'error'})`, path, err)
    }
  }
  if (text != null) {
    return { privateKey: parseIdentity(text, path), path, created: false }
  }
  const privateKey = await generateKeyPair('Ed25519')
  await writeIdentity(path, privateKey)
  return { privateKey, path, created: true }
}

/** Parse the text of an identity file. */
export function parseIdentity (text: string, path: string): PrivateKey {
  let data: Partial<IdentityFile>
  try {
    data = JSON.parse(text) as Partial<IdentityFile>
  } catch (err) {
    throw new IdentityError(`identity file ${path} is corrupt (not JSON)`, path, err)
  }
  if (data == null || typeof data !== 'object' || data.version !== IDENTITY_FILE_VERSION || typeof data.privateKey !== 'string') {
    throw new IdentityError(`identity file ${path} is corrupt or of an unknown version`, path)
  }
  let key: PrivateKey
  try {
    key = privateKeyFromProtobuf(Buffer.from(data.privateKey, 'base64'))
  } catch (err) {
    throw new IdentityError(`identity file ${path} holds no valid private key`, path, err)
  }
  if (key.type !== 'Ed25519') {
    throw new IdentityError(`identity file ${path} holds a ${key.type} key; beam uses Ed25519`, path)
  }
  if (data.peerId != null && data.peerId !== peerIdFromPrivateKey(key).toString()) {
    throw new IdentityError(`identity file ${path} is inconsistent (peer id does not match the key)`, path)
  }
  return key
}

/** Write a key atomically (temp file + rename), mode 0600, directory 0700. */
export async function writeIdentity (path: string, key: PrivateKey): Promise<void> {
  const body: IdentityFile = {
    version: IDENTITY_FILE_VERSION,
    type: 'Ed25519',
    peerId: peerIdFromPrivateKey(key).toString(),
    privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64')
  }
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    await writeFile(tmp, JSON.stringify(body, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
    await chmod(tmp, 0o600)
    await rename(tmp, path)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new IdentityError(`cannot write identity file ${path} (${code ?? 'error'})`, path, err)
  }
}
