import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from 'vitest'

// The examples are part of the documentation (docs/embedding.md): they must run as written.
const root = fileURLToPath(new URL('../../', import.meta.url))

interface Run { code: number | string, stdout: string, stderr: string }

/** Run a file with this Node, from the repository root; killed after 30 s. */
async function run (file: string): Promise<Run> {
  return await new Promise<Run>((resolve) => {
    execFile(process.execPath, [file], { cwd: root, timeout: 30_000 }, (err, stdout, stderr) => {
      const e = err as (NodeJS.ErrnoException & { code?: number | string, signal?: string }) | null
      resolve({ code: e == null ? 0 : (e.signal ?? e.code ?? 1), stdout, stderr })
    })
  })
}

describe('examples', () => {
  it('embed-basic.ts fetches the shared web server through a tunnel and exits 0', async () => {
    const r = await run('examples/embed-basic.ts')
    const seen = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`
    expect(r.code, seen).toBe(0)
    expect(r.stdout.split('\n'), seen).toEqual([
      'path: direct over tcp',
      'got: hello through beam',
      ''
    ])
  }, 40_000)

  it('docs/embedding.md shows embed-basic.ts as it is', () => {
    const read = (p: string): string => readFileSync(join(root, p), 'utf8')
    // the file minus its opening comment block
    const code = read('examples/embed-basic.ts').replace(/^\/\*\*[\s\S]*?\*\/\n/, '')
    expect(read('docs/embedding.md')).toContain('```ts\n' + code + '```\n')
  })
})
