import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, afterEach } from 'vitest'
import { RotatingLogFile } from '../../../src/cli/log-file.ts'

const dirs: string[] = []
afterEach(async () => { for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true }) })
async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'beam-logfile-'))
  dirs.push(d)
  return d
}

describe('RotatingLogFile', () => {
  it('rotates before a line would take the file past its size, keeping `keep` copies (newest .1)', async () => {
    const dir = await tmp()
    const path = join(dir, 'beam.log')
    const f = new RotatingLogFile({ path, maxBytes: 20, keep: 2 })
    for (let i = 0; i < 7; i++) f.write(`line-${i}-xxxx\n`) // 12 bytes each: one line per file
    f.close()
    expect((await readdir(dir)).sort()).toEqual(['beam.log', 'beam.log.1', 'beam.log.2'])
    expect(await readFile(path, 'utf8')).toBe('line-6-xxxx\n')
    expect(await readFile(`${path}.1`, 'utf8')).toBe('line-5-xxxx\n')
    expect(await readFile(`${path}.2`, 'utf8')).toBe('line-4-xxxx\n')
  })

  it('fills a file up to its size before rotating, and appends to an existing file', async () => {
    const dir = await tmp()
    const path = join(dir, 'a.log')
    const first = new RotatingLogFile({ path, maxBytes: 10 })
    first.write('12345\n')
    first.close()
    const second = new RotatingLogFile({ path, maxBytes: 10 })
    second.write('abc\n') // 6 + 4 = 10: still fits
    second.write('z\n') // would make 12: rotates
    second.close()
    expect(await readFile(`${path}.1`, 'utf8')).toBe('12345\nabc\n')
    expect(await readFile(path, 'utf8')).toBe('z\n')
  })

  it('creates files readable by their owner only', async () => {
    const dir = await tmp()
    const path = join(dir, 'b.log')
    const f = new RotatingLogFile({ path, maxBytes: 4 })
    f.write('aaa\n')
    f.write('bbb\n')
    f.close()
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(`${path}.1`)).mode & 0o777).toBe(0o600)
  })
})
