/**
 * Build the API reference (docs/api/, Markdown) from the types and TSDoc of
 * src/index.ts with typedoc. The project type-checks with TypeScript 7 (the
 * native compiler, which has no JS compiler API); typedoc needs the
 * TypeScript 6 API, so it lives in this folder with its own pinned
 * dependencies (package-lock.json), installed here on first use.
 *
 *   node tools/api-docs/build.ts          # regenerate docs/api/
 *   node tools/api-docs/build.ts --check  # fail if docs/api/ is not what the sources give
 *
 * Fails (exit 1) on any typedoc warning (`treatWarningsAsErrors`), among
 * them an exported symbol or property without documentation
 * (`validation.notDocumented`) and a type or link that points to something
 * not exported (`validation.notExported`, `invalidLink`).
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('./', import.meta.url))
const root = join(here, '..', '..')
const committed = join(root, 'docs', 'api')

async function run (cmd: string, args: string[], cwd: string): Promise<{ code: number, output: string }> {
  return await new Promise(resolve => {
    execFile(cmd, args, { cwd, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : typeof err.code === 'number' ? err.code : 1, output: stdout + stderr })
    })
  })
}

/** Install the pinned typedoc here unless the installed tree matches the lock file. */
async function ensureInstalled (): Promise<void> {
  const installed = join(here, 'node_modules', '.package-lock.json')
  if (existsSync(installed) && statSync(installed).mtimeMs >= statSync(join(here, 'package-lock.json')).mtimeMs) return
  console.log('api-docs: installing typedoc (npm ci in tools/api-docs)')
  const r = await run('npm', ['ci', '--no-audit', '--no-fund'], here)
  if (r.code !== 0) throw new Error(`npm ci in tools/api-docs failed:\n${r.output}`)
}

/** Every file under `dir`, relative to it, sorted. */
function tree (dir: string): string[] {
  if (!existsSync(dir)) return []
  const out: string[] = []
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name))
      else out.push(relative(dir, join(d, e.name)))
    }
  }
  walk(dir)
  return out.sort()
}

/** Names of the files that differ between two trees (missing on either side included). */
function differences (a: string, b: string): string[] {
  const ta = tree(a)
  const tb = tree(b)
  const all = [...new Set([...ta, ...tb])].sort()
  return all.filter(f => !ta.includes(f) || !tb.includes(f) || !readFileSync(join(a, f)).equals(readFileSync(join(b, f))))
}

async function main (): Promise<number> {
  const check = process.argv.includes('--check')
  await ensureInstalled()
  const out = check ? mkdtempSync(join(tmpdir(), 'beam-api-docs-')) : committed
  try {
    const r = await run(join(here, 'node_modules', '.bin', 'typedoc'), ['--options', 'typedoc.json', '--out', out, '--logLevel', 'Warn'], here)
    const output = r.output.replace(/\x1b\[[0-9;]*m/g, '').trim()
    if (output !== '') console.error(output)
    if (r.code !== 0) {
      console.error('api-docs: typedoc failed (every exported symbol and property needs TSDoc)')
      return 1
    }
    if (check) {
      const diff = differences(out, committed)
      if (diff.length > 0) {
        console.error(`api-docs: docs/api is out of date (${diff.length} file(s), e.g. ${diff.slice(0, 5).join(', ')}): run npm run docs:api and commit docs/api`)
        return 1
      }
      console.log(`api-docs: docs/api is up to date (${tree(committed).length} files)`)
    } else {
      console.log(`api-docs: wrote ${tree(committed).length} files to docs/api`)
    }
    return 0
  } finally {
    if (check) rmSync(out, { recursive: true, force: true })
  }
}

process.exitCode = await main()
