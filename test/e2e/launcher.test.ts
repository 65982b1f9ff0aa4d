/**
 * bin/beam.js picks what to run: the bundle (dist/bundle/beam.mjs) when it is
 * there and, in a checkout, newer than every source file and the lock file;
 * else the TypeScript sources in a checkout, or dist/cli in an installed
 * package. Tested on a copy of the launcher in a scratch package root whose
 * three entry points each print their name.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fakeOldNode, loggingNode } from '../helpers/old-node.ts'

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

/** Run `node` on the launcher of `root`; never throws. */
function runWith (node: string, root: string, args: string[], env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  try {
    const stdout = execFileSync(node, [join(root, 'bin', 'beam.js'), ...args], { env: { ...process.env, BEAM_BUNDLE: '', BEAM_REEXEC: '', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
    return { status: 0, stdout, stderr: '' }
  } catch (err) {
    const e = err as { status: number | null, stdout: string, stderr: string }
    return { status: e.status, stdout: e.stdout, stderr: e.stderr }
  }
}

/** A checkout whose source entry prints what it ran on and exits 7. */
function reportingCheckout (dir: string): string {
  const root = packageRoot(dir, {})
  mkdirSync(join(root, 'src', 'cli'), { recursive: true })
  writeFileSync(join(root, 'src', 'cli', 'main.ts'), 'process.stdout.write(JSON.stringify({ node: process.versions.node, args: process.argv.slice(2), reexec: process.env.BEAM_REEXEC })); process.exitCode = 7\n')
  return root
}

describe('launcher: a Node older than 22.18', () => {
  const oldNode = fakeOldNode(join(scratch, 'old-node'))

  it('the fake old node reports v20 to the launcher', () => {
    expect(execFileSync(oldNode, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()).toBe('20.11.1')
  })

  it('re-runs the launcher with the bundled Node (node_modules/node), with the same arguments, and exits with its code', () => {
    const root = reportingCheckout(join(scratch, 'reexec'))
    const log = join(scratch, 'reexec-bundled.log')
    loggingNode(join(root, 'node_modules', 'node', 'bin'), log)
    const r = runWith(oldNode, root, ['share', '3000', '--json'])
    expect(r.stderr).toBe('')
    expect(r.status).toBe(7)
    const ran = JSON.parse(r.stdout) as { node: string, args: string[], reexec: string }
    // beam itself ran on the bundled (current) Node, not on the old one
    expect(ran).toEqual({ node: process.versions.node, args: ['share', '3000', '--json'], reexec: '1' })
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual([`BEAM_REEXEC=1 ${join(root, 'bin', 'beam.js')} share 3000 --json`])
  })

  it('without a bundled Node says what is needed in one line and exits 69; beam does not run', () => {
    const root = reportingCheckout(join(scratch, 'no-bundled'))
    expect(existsSync(join(root, 'node_modules'))).toBe(false)
    const r = runWith(oldNode, root, ['share', '3000'])
    expect(r.status).toBe(69)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^beam: needs Node\.js >= 22\.18 \(this is 20\.11\.1\); run 'npm ci'/)
  })

  it('a bundled Node that is too old as well: exit 69 after one re-exec, no loop', () => {
    const root = reportingCheckout(join(scratch, 'old-bundled'))
    const log = join(scratch, 'old-bundled.log')
    fakeOldNode(join(root, 'node_modules', 'node', 'bin'), '21.7.0', [`echo "BEAM_REEXEC=$BEAM_REEXEC $*" >> ${JSON.stringify(log)}`])
    const r = runWith(oldNode, root, ['id'])
    expect(r.status).toBe(69)
    expect(r.stdout).toBe('')
    expect(r.stderr).toMatch(/^beam: needs Node\.js >= 22\.18 \(this is 21\.7\.0\)/)
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(1)
  })
})
