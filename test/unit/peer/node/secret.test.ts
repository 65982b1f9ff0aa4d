import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeEach, afterEach } from 'vitest'
import { loadOrCreateAccessSecret } from '../../../../src/peer/index.ts'

let dir = ''
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'beam-id-')) })
afterEach(async () => { await rm(dir, { recursive: true, force: true }) })

describe('access secret file', () => {
  it('persists across loads, rotates on request, mode 0600', async () => {
    const path = join(dir, 'access-secret')
    const a = await loadOrCreateAccessSecret(path)
    expect(a.length).toBe(32)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect(Buffer.from(await loadOrCreateAccessSecret(path)).equals(Buffer.from(a))).toBe(true)
    const b = await loadOrCreateAccessSecret(path, { rotate: true })
    expect(Buffer.from(b).equals(Buffer.from(a))).toBe(false)
    expect(Buffer.from(await loadOrCreateAccessSecret(path)).equals(Buffer.from(b))).toBe(true)
  })

  it('rejects a corrupt secret file', async () => {
    const path = join(dir, 'access-secret')
    await writeFile(path, 'xyz')
    await expect(loadOrCreateAccessSecret(path)).rejects.toMatchObject({ name: 'IdentityError' })
  })
})
