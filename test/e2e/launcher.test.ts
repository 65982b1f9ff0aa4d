/**
 * bin/beam.js picks what to run: the bundle (dist/bundle/beam.mjs) when it is
 * there and, in a checkout, newer than every source file and the lock file;
 * else the TypeScript sources in a checkout, or dist/cli in an installed
 * package. Tested on a copy of the launcher in a scratch package root whose
 * three entry points each print their name.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const LAUNCHER = fileURLToPath(new URL('../../bin/beam.js', import.meta.url))
const scratch = mkdtempSync(join(tmpdir(), 'beam-launcher-'))
afterAll(() => { rmSync(scratch, { recursive: true, force: true }) })

/** A package root with the launcher and entry points that print `source`, `bundle`, `dist`. */
function packageRoot (dir: string, parts: { source?: boolean, bundle?: boolean, dist?: boolean }): string {
  mkdirSync(join(dir, 'bin'), { recursive: true })
  copyFileSync(LAUNCHER, join(dir, 'bin', 'beam.js'))
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n')
  writeFileSync(join(dir, 'package-lock.json'), '{}\n')
  const entry = (file: string, name: string): void => {
    mkdirSync(join(file, '..'), { recursive: true })
    writeFileSync(file, `process.stdout.write(${JSON.stringify(name)})\n`)
  }
  if (parts.source === true) entry(join(dir, 'src', 'cli', 'main.ts'), 'source')
  if (parts.dist === true) entry(join(dir, 'dist', 'cli', 'main.js'), 'dist')
  if (parts.bundle === true) entry(join(dir, 'dist', 'bundle', 'beam.mjs'), 'bundle')
  return dir
}

/** Set a file's modification time, in seconds from now. */
function age (file: string, seconds: number): void {
  const t = new Date(Date.now() + seconds * 1000)
  utimesSync(file, t, t)
}

function run (root: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [join(root, 'bin', 'beam.js'), '--version'], {
    env: { ...process.env, BEAM_BUNDLE: '', ...env },
    encoding: 'utf8'
  })
}

describe('launcher: bundle, sources or dist', () => {
  it('a checkout runs a fresh bundle, and the sources once any source file (or the lock file) is newer than it, or with BEAM_BUNDLE=0', () => {
    const root = packageRoot(join(scratch, 'checkout'), { source: true, bundle: true })
    const bundle = join(root, 'dist', 'bundle', 'beam.mjs')
    for (const f of ['package.json', 'package-lock.json', 'src/cli/main.ts']) age(join(root, f), -60)
    age(bundle, -10)
    expect(run(root)).toBe('bundle')
    expect(run(root, { BEAM_BUNDLE: '0' })).toBe('source')
    age(join(root, 'src', 'cli', 'main.ts'), 0)
    expect(run(root)).toBe('source')
    age(join(root, 'src', 'cli', 'main.ts'), -60)
    age(join(root, 'package-lock.json'), 0)
    expect(run(root)).toBe('source')
  })

  it('an installed package (under node_modules) runs the bundle when it has one, else dist/cli; sources there are never run', () => {
    const withBundle = packageRoot(join(scratch, 'app', 'node_modules', 'beam'), { source: true, dist: true, bundle: true })
    age(join(withBundle, 'dist', 'bundle', 'beam.mjs'), -60)
    expect(run(withBundle)).toBe('bundle')
    const noBundle = packageRoot(join(scratch, 'app2', 'node_modules', 'beam'), { source: true, dist: true })
    expect(run(noBundle)).toBe('dist')
  })

  it('an installed package with no build says so in one line and exits 1', () => {
    const root = packageRoot(join(scratch, 'app3', 'node_modules', 'beam'), { source: true })
    let failure: { status: number | null, stderr: string } | undefined
    try { run(root) } catch (err) { failure = err as { status: number | null, stderr: string } }
    expect(failure?.status).toBe(1)
    expect(failure?.stderr.trim().split('\n')).toHaveLength(1)
    expect(failure?.stderr).toMatch(/^beam: this installation has no build/)
  })
})
