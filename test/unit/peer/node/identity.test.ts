import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { loadOrCreateIdentity, parseIdentity } from '../../../../src/peer/index.ts'

let dir = ''
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'beam-id-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('identity file', () => {
  it('is created once with mode 0600 in a 0700 directory and read back to the same peer id', async () => {
    const path = join(dir, 'sub', 'identity.json')
    const a = await loadOrCreateIdentity(path)
    expect(a.created).toBe(true)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(join(dir, 'sub'))).mode & 0o777).toBe(0o700)
    const b = await loadOrCreateIdentity(path)
    expect(b.created).toBe(false)
    expect(peerIdFromPrivateKey(b.privateKey).equals(peerIdFromPrivateKey(a.privateKey))).toBe(true)
    const json = JSON.parse(await readFile(path, 'utf8')) as { version: number, type: string, peerId: string }
    expect(json).toMatchObject({ version: 1, type: 'Ed25519', peerId: peerIdFromPrivateKey(a.privateKey).toString() })
  })

  it('refuses corrupt or unreadable files and never overwrites them', async () => {
    const path = join(dir, 'identity.json')
    for (const text of ['{not json', '{"version":2,"privateKey":"AA=="}', '{"version":1,"privateKey":"bm90IGEga2V5"}', 'null']) {
      await writeFile(path, text)
      await expect(loadOrCreateIdentity(path)).rejects.toMatchObject({ name: 'IdentityError', path })
      expect(await readFile(path, 'utf8')).toBe(text)
    }
    await mkdir(join(dir, 'isdir'))
    await expect(loadOrCreateIdentity(join(dir, 'isdir'))).rejects.toMatchObject({ name: 'IdentityError' })
  })

  it('detects a peer id that does not match the key', async () => {
    const path = join(dir, 'identity.json')
    await loadOrCreateIdentity(path)
    const data = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>
    data.peerId = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'
    expect(() => parseIdentity(JSON.stringify(data), path)).toThrow(/inconsistent/)
  })
})

