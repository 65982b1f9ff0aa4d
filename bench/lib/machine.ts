/**
 * What a benchmark result says about where it was measured: CPU, cores,
 * memory, kernel, Node, beam's version and commit, and the versions of the
 * packages that matter to the figures. Shared by `npm run bench` (run.ts)
 * and the soak (soak.ts).
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { cpus, release, totalmem } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { round } from './stats.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The machine and versions of a run. */
export interface MachineInfo {
  cpu: string
  cores: number
  memoryGiB: number | null
  kernel: string
  node: string
  beam: string
  /** Short commit of HEAD, `-dirty` when src/, bin/ or the package files had changes not committed. */
  commit: string | null
  libp2p: string | null
  packages: Record<string, string | null>
}

/** An installed package's version, or null when it is not installed. */
export function versionOf (pkg: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return null
  }
}

/** This machine, beam's version and commit, and the versions of `packages`. */
export function machineInfo (packages: string[]): MachineInfo {
  let commit: string | null = null
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim()
    // a run of code not yet committed says so: what ran is the commit plus changes to what beam runs
    const changed = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bin', 'package.json', 'package-lock.json'], { cwd: ROOT, encoding: 'utf8' }).trim()
    if (changed !== '') commit += '-dirty'
  } catch {}
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: round(totalmem() / 1024 ** 3, 1),
    kernel: release(),
    node: process.version,
    beam: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    commit,
    libp2p: versionOf('libp2p'),
    packages: Object.fromEntries(packages.map(p => [p, versionOf(p)]))
  }
}
