/**
 * A `node` that says it is an old Node: an executable script that runs this
 * process's Node with a preload setting `process.versions.node` (what
 * bin/beam.js reads) to `version`. It makes bin/beam.js's paths for a too old
 * runtime (re-exec with the bundled Node, or exit 69) run on any machine,
 * not only on one that happens to have a Node < 22 installed.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Writes `<dir>/node` (and its preload) and returns its path.
 * @param version what the fake reports, @default '20.11.1'
 * @param before shell lines run before the exec (e.g. to log the call)
 * @param options.execve keep `process.execve` (a Node from 22.15 has it; 20 has not), @default true
 */
export function fakeOldNode (dir: string, version = '20.11.1', before: string[] = [], options: { execve?: boolean } = {}): string {
  mkdirSync(dir, { recursive: true })
  const preload = join(dir, 'old-node-preload.cjs')
  const hideExecve = options.execve === false ? 'Object.defineProperty(process, \'execve\', { value: undefined })\n' : ''
  writeFileSync(preload, `Object.defineProperty(process.versions, 'node', { value: ${JSON.stringify(version)}, enumerable: true })\n${hideExecve}`)
  const bin = join(dir, 'node')
  writeFileSync(bin, ['#!/bin/sh', ...before, `exec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(preload)} "$@"`, ''].join('\n'))
  chmodSync(bin, 0o755)
  return bin
}

/** A `node` that logs each call (arguments and BEAM_REEXEC) to `log`, then runs this process's Node: a bundled Node that can be watched. */
export function loggingNode (dir: string, log: string): string {
  mkdirSync(dir, { recursive: true })
  const bin = join(dir, 'node')
  writeFileSync(bin, ['#!/bin/sh', `echo "BEAM_REEXEC=$BEAM_REEXEC $*" >> ${JSON.stringify(log)}`, `exec ${JSON.stringify(process.execPath)} "$@"`, ''].join('\n'))
  chmodSync(bin, 0o755)
  return bin
}
