import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
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

  it('chat.ts: two instances chat both ways through app messages, and exit 0 on end of input', async () => {
    const start = (args: string[]): { child: ReturnType<typeof spawn>, lines: string[], waitFor: (re: RegExp) => Promise<string> } => {
      const child = spawn(process.execPath, ['examples/chat.ts', ...args], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] })
      const lines: string[] = []
      const waiters: Array<() => void> = []
      createInterface({ input: child.stdout }).on('line', l => { lines.push(l); for (const w of waiters.splice(0)) w() })
      const waitFor = async (re: RegExp): Promise<string> => {
        const deadline = Date.now() + 20_000
        for (;;) {
          const hit = lines.find(l => re.test(l))
          if (hit != null) return hit
          if (Date.now() > deadline) throw new Error(`no line matching ${String(re)}; got:\n${lines.join('\n')}`)
          await new Promise<void>(resolve => { waiters.push(resolve); setTimeout(resolve, 250) })
        }
      }
      return { child, lines, waitFor }
    }
    const a = start([])
    try {
      const cmd = await a.waitFor(/^node examples\/chat\.ts beam/)
      const cs = cmd.split(' ')[2] ?? ''
      const joiner = start([cs])
      try {
        await joiner.waitFor(/^\* connected to/)
        await a.waitFor(/joined$/)
        joiner.child.stdin?.write('hello from the joiner\n')
        await a.waitFor(/: hello from the joiner$/)
        a.child.stdin?.write('hi back\n')
        await joiner.waitFor(/: hi back$/)
        joiner.child.stdin?.end()
        const [code] = await once(joiner.child, 'exit') as [number | null]
        expect(code).toBe(0)
      } finally {
        joiner.child.kill()
      }
      a.child.stdin?.end()
      const [codeA] = await once(a.child, 'exit') as [number | null]
      expect(codeA).toBe(0)
    } finally {
      a.child.kill()
    }
  }, 60_000)

  it('docs/embedding.md shows embed-basic.ts as it is', () => {
    const read = (p: string): string => readFileSync(join(root, p), 'utf8')
    // the file minus its opening comment block
    const code = read('examples/embed-basic.ts').replace(/^\/\*\*[\s\S]*?\*\/\n/, '')
    expect(read('docs/embedding.md')).toContain('```ts\n' + code + '```\n')
  })
})
