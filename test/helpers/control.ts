/**
 * Helpers for the end-to-end tests of the local control plane (beam status,
 * logs, stop, cleanup) over either of its transports.
 */
import { lstat } from 'node:fs/promises'
import { expect } from 'vitest'
import { startConnect, startShare, tempHome } from './beam.ts'
import type { BeamProcess } from './beam.ts'
import { startHttpService } from './services.ts'
import type { TestHttp } from './services.ts'

/** Whether something (a file, a socket, a dangling link) is at `p`. */
export const pathExists = async (p: string): Promise<boolean> => await lstat(p).then(() => true, () => false)

/** One clear line on stderr (`beam: …`, matching `pattern`) and the exit code `code`. */
export function expectOneLine (r: { code: number | null, stderr: string }, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^beam: /)
  expect(lines[0]).toMatch(pattern)
}

/** A share named `web` of a local HTTP service and a connect to it, in one temporary BEAM_HOME. */
export interface WebPair {
  home: Awaited<ReturnType<typeof tempHome>>
  http: TestHttp
  share: Awaited<ReturnType<typeof startShare>>
  conn: Awaited<ReturnType<typeof startConnect>>
}

/** Start a {@link WebPair}, both processes with `env`; what started is stopped again if a later step fails. */
export async function startWebPair (env: Record<string, string> = {}): Promise<WebPair> {
  const pair: Partial<WebPair> = {}
  try {
    pair.home = await tempHome()
    pair.http = await startHttpService()
    pair.share = await startShare([String(pair.http.port), '--name', 'web'], pair.home.dir, env)
    pair.conn = await startConnect(pair.share.connect, [], pair.home.dir, env)
    return pair as WebPair
  } catch (err) {
    await stopWebPair(pair)
    throw err
  }
}

/** Stop the pair's processes and `others`, close the service and remove the home (any part may be missing). */
export async function stopWebPair (pair: Partial<WebPair> | undefined, others: BeamProcess[] = []): Promise<void> {
  for (const p of [pair?.conn?.proc, pair?.share?.proc, ...others]) await p?.stop().catch(() => {})
  await pair?.http?.close()
  await pair?.home?.cleanup()
}
