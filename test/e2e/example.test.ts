import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, it, expect } from 'vitest'

// The examples are part of the documentation: they must run as written.
const root = fileURLToPath(new URL('../../', import.meta.url))

describe('examples', () => {
  it('embed-basic.ts runs, prints the response and exits 0', async () => {
    const out = await new Promise<{ code: number, stdout: string }>((resolve) => {
      execFile(process.execPath, ['examples/embed-basic.ts'], { cwd: root, timeout: 30_000 }, (err, stdout) => {
        resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? 1), stdout })
      })
    })
    expect(out.code).toBe(0)
    expect(out.stdout).toContain('got: hello through beam')
    expect(out.stdout).toContain('path: direct over tcp')
  })
})
