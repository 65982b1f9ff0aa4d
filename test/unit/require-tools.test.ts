/**
 * test/helpers/require-tools.ts: a suite whose tool is missing skips (saying
 * why) on a developer's machine and fails in CI, directly and through a real
 * vitest run of a fixture suite.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { isCI, MissingTestDependencyError, need, suiteNeeds } from '../helpers/require-tools.ts'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url))
const FIXTURE_CONFIG = 'test/fixtures/suite-needs/vitest.config.ts'
const conntrack = need(false, "'conntrack' not found in PATH or sbin (run scripts/install-test-deps.sh)")

describe('suiteNeeds', () => {
  it('in CI (CI=true) a missing tool throws MissingTestDependencyError naming the suite and the tool', () => {
    const lines: string[] = []
    let err: unknown
    try {
      suiteNeeds('NAT lab tests', [{ ok: true }, conntrack], { env: { CI: 'true' }, write: l => { lines.push(l) } })
    } catch (e) { err = e }
    expect(err).toBeInstanceOf(MissingTestDependencyError)
    expect((err as Error).name).toBe('MissingTestDependencyError')
    expect((err as Error).message).toContain('NAT lab tests')
    expect((err as Error).message).toContain("'conntrack' not found")
    expect(lines).toEqual([])
  })

  it('without CI a missing tool skips and prints the reason', () => {
    const lines: string[] = []
    expect(suiteNeeds('NAT lab tests', conntrack, { env: {}, write: l => { lines.push(l) } })).toBe(true)
    expect(lines.join('')).toMatch(/NAT lab tests SKIPPED: 'conntrack' not found/)
  })

  it('runs (no skip, no throw, nothing printed) when every need is met, in CI or not', () => {
    const lines: string[] = []
    for (const env of [{ CI: 'true' }, {}]) {
      expect(suiteNeeds('suite', [need(true, 'unused'), { ok: true }], { env, write: l => { lines.push(l) } })).toBe(false)
    }
    expect(lines).toEqual([])
  })

  it('reads CI as CI services set it', () => {
    for (const v of ['true', '1', 'yes', 'TRUE']) expect(isCI({ CI: v })).toBe(true)
    for (const v of [undefined, '', '0', 'false', 'False']) expect(isCI({ CI: v })).toBe(false)
  })
})

/** `vitest run` on the fixture suite (its need is missing) with `CI` as given. */
async function runFixture (ci: string | undefined): Promise<{ code: number, out: string }> {
  const env: Record<string, string | undefined> = { ...process.env, CI: ci, NO_COLOR: '1' }
  if (ci == null) delete env.CI
  return await new Promise(resolve => {
    execFile(process.execPath, [VITEST, 'run', '--config', FIXTURE_CONFIG], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : Number((err as { code?: number }).code ?? 1), out: stdout + stderr })
    })
  })
}

describe('a vitest run of a suite whose tool is missing', () => {
  it('fails with CI=true, naming what is missing; skips with CI unset, saying why', async () => {
    const [ci, laptop] = await Promise.all([runFixture('true'), runFixture(undefined)])
    expect(ci.code, ci.out).not.toBe(0)
    expect(ci.out).toMatch(/MissingTestDependencyError/)
    expect(ci.out).toMatch(/fixture suite cannot run in CI.*'no-such-tool' not found/)
    expect(laptop.code, laptop.out).toBe(0)
    expect(laptop.out).toMatch(/fixture suite SKIPPED: 'no-such-tool' not found/)
    expect(laptop.out).toMatch(/1 skipped/)
  }, 90_000)
})
