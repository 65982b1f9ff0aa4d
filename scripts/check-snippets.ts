/**
 * Type-check the TypeScript snippets of the documentation, so that they
 * cannot rot: every ```ts (or ```typescript) block of README.md and
 * docs/*.md (not docs/api/, which is generated) is written to a module in
 * .snippets/ inside the repository (so that `import … from 'beam'` resolves
 * through package.json `exports`, as in an app) and the lot is checked with
 * the project's own tsc and tsconfig. Errors are reported as
 * `file.md:line: message`, the line being the snippet's line in the page.
 *
 * Markers, HTML comments on the line(s) just before a block:
 *   <!-- snippet: skip -->      not checked (pseudo-code, or a fragment shown for its shape)
 *   <!-- snippet: continue -->  continues the page's previous checked block (one module: a tutorial in steps)
 *   <!-- snippet: prelude
 *   import { createBeam } from 'beam'
 *   const node = await createBeam()
 *   -->                         hidden code put before the block (declares what a fragment uses)
 *
 * Usage: node scripts/check-snippets.ts [files…]   (exit 0: all compile; 1: errors; 2: bad usage)
 * The test of the tutorial in docs/embedding.md imports extract() to run it.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))
const outDir = join(root, '.snippets')

/** One line of a generated module: where it came from. */
export interface Origin { file: string, line: number, hidden: boolean }

/** A module to check: its lines and where each came from. */
export interface Snippet { name: string, lines: string[], origins: Origin[] }

/** Default pages: README.md and docs/*.md. */
function defaultFiles (): string[] {
  const docs = readdirSync(join(root, 'docs')).filter(f => f.endsWith('.md')).sort().map(f => join('docs', f))
  return ['README.md', ...docs]
}

const FENCE_OPEN = /^```(ts|typescript)\s*$/
const FENCE_ANY = /^```/
const MARKER = /^<!--\s*snippet:\s*(skip|continue|prelude)\b/

/** Extract the checked snippets of one page. */
export function extract (file: string, text: string): Snippet[] {
  const lines = text.split('\n')
  const out: Snippet[] = []
  let pending: { skip: boolean, continues: boolean, prelude: Array<{ text: string, line: number }> } = { skip: false, continues: false, prelude: [] }
  let inOther = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? ''
    if (inOther) { if (line.startsWith('```')) inOther = false; continue }
    const m = MARKER.exec(line.trim())
    if (m != null) {
      if (m[1] === 'skip') pending.skip = true
      else if (m[1] === 'continue') pending.continues = true
      else {
        // prelude: code lines up to the closing -->
        for (i++; i < lines.length && !(lines[i] ?? '').trim().startsWith('-->'); i++) pending.prelude.push({ text: lines[i] ?? '', line: i + 1 })
      }
      continue
    }
    if (FENCE_OPEN.test(line)) {
      const body: Array<{ text: string, line: number }> = []
      for (i++; i < lines.length && !(lines[i] ?? '').startsWith('```'); i++) body.push({ text: lines[i] ?? '', line: i + 1 })
      if (!pending.skip) {
        const prev = out.at(-1)
        const target = pending.continues && prev != null ? prev : { name: `${file.replace(/[^A-Za-z0-9]+/g, '_')}_${body[0]?.line ?? i}`, lines: [], origins: [] }
        for (const p of pending.prelude) { target.lines.push(p.text); target.origins.push({ file, line: p.line, hidden: true }) }
        for (const b of body) { target.lines.push(b.text); target.origins.push({ file, line: b.line, hidden: false }) }
        if (target !== prev) out.push(target)
      }
      pending = { skip: false, continues: false, prelude: [] }
      continue
    }
    if (FENCE_ANY.test(line)) { inOther = true; pending = { skip: false, continues: false, prelude: [] }; continue }
    if (line.trim() !== '') pending = { skip: false, continues: false, prelude: [] }
  }
  return out
}

async function tsc (project: string): Promise<{ code: number, output: string }> {
  return await new Promise(resolve => {
    execFile(join(root, 'node_modules', '.bin', 'tsc'), ['-p', project, '--noEmit', '--pretty', 'false'], { cwd: root, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err == null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, output: stdout + stderr })
    })
  })
}

async function main (): Promise<number> {
  const files = process.argv.length > 2 ? process.argv.slice(2) : defaultFiles()
  const snippets: Snippet[] = []
  for (const f of files) {
    let text: string
    try {
      text = readFileSync(join(root, f), 'utf8')
    } catch {
      console.error(`check-snippets: cannot read ${f}`)
      return 2
    }
    snippets.push(...extract(relative(root, join(root, f)), text))
  }
  rmSync(outDir, { recursive: true, force: true })
  mkdirSync(outDir, { recursive: true })
  const byModule = new Map<string, Snippet>()
  for (const s of snippets) {
    // `export {}` makes each snippet a module of its own (top-level await, no shared names)
    writeFileSync(join(outDir, `${s.name}.ts`), s.lines.join('\n') + '\nexport {}\n')
    byModule.set(`${s.name}.ts`, s)
  }
  writeFileSync(join(outDir, 'tsconfig.json'), JSON.stringify({
    extends: '../tsconfig.json',
    compilerOptions: { noUnusedLocals: false },
    include: ['./*.ts']
  }, null, 2))
  const { code, output } = await tsc(join(outDir, 'tsconfig.json'))
  let errors = 0
  for (const line of output.split('\n')) {
    if (line.trim() === '') continue
    const m = /^(.*?)\((\d+),(\d+)\): (error .*)$/.exec(line)
    const snippet = m != null ? byModule.get((m[1] ?? '').split('/').at(-1) ?? '') : undefined
    if (m == null || snippet == null) { console.error(line); if (m != null) errors++; continue }
    errors++
    const origin = snippet.origins[Number(m[2]) - 1]
    const where = origin != null ? `${origin.file}:${origin.line}${origin.hidden ? ' (prelude)' : ''}` : `${snippet.name} (generated line ${m[2] ?? '?'})`
    console.error(`${where}: ${m[4] ?? ''}`)
  }
  if (code !== 0 || errors > 0) {
    console.error(`check-snippets: ${errors} error(s) in ${snippets.length} snippet(s) of ${files.length} page(s)`)
    return 1
  }
  console.log(`check-snippets: ${snippets.length} snippet(s) of ${files.length} page(s) type-check`)
  rmSync(outDir, { recursive: true, force: true })
  return 0
}

// run when started as a script (tests import extract())
if (import.meta.main) process.exitCode = await main()
