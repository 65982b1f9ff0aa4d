/** A persistent I2P destination: its private key blob (I2P base64) in a file of mode 0600. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { publicOfPrivate } from './destination.ts'
import { I2pAddressError } from './errors.ts'
import { generateDestination } from './sam-session.ts'
import type { SamAddress, SamWaitOptions } from './sam-socket.ts'

/** The private key in `path`, or undefined when the file does not exist. Throws I2pAddressError for a damaged file. */
export function readKeyFile (path: string): { privateKey: string, destination: string } | undefined {
  if (!existsSync(path)) return undefined
  const privateKey = readFileSync(path, 'utf8').trim()
  try {
    return { privateKey, destination: publicOfPrivate(privateKey) }
  } catch (err) {
    throw new I2pAddressError(`I2P key file ${path} does not hold an I2P private key: ${(err as Error).message}`)
  }
}

/** Read the key in `path`, or have the router generate one and save it there. */
export async function loadOrCreateKeyFile (path: string, sam: SamAddress, options: SamWaitOptions): Promise<{ privateKey: string, destination: string }> {
  const existing = readKeyFile(path)
  if (existing != null) return existing
  const fresh = await generateDestination(sam, options)
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 })
  writeFileSync(path, `${fresh.privateKey}\n`, { mode: 0o600, flag: 'wx' })
  return fresh
}
