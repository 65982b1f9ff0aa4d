/**
 * The one place where a test suite says what it needs from the machine: root,
 * a Debian tool (ip, iptables, conntrack, strace, tor, i2pd, …), a downloaded
 * binary (ATOR's anon). Every availability check of the lab, I2P, Tor and
 * ATOR suites goes through {@link suiteNeeds}:
 *
 * - on a developer's machine (`CI` unset) a missing need skips the suite and
 *   prints why on stderr, once per suite and reason;
 * - in CI (`CI` set to anything but '', '0' or 'false', as CI services set
 *   `CI=true`) it throws {@link MissingTestDependencyError} naming the suite
 *   and what is missing, so that the file (or the global setup) fails and a
 *   CI run cannot pass by skipping.
 *
 * ```ts
 * const avail = await labAvailable()
 * describe.skipIf(suiteNeeds('NAT lab tests', avail))('…', () => { … })
 * ```
 */

/** One thing a suite needs: `ok`, or a `reason` saying what is missing and how to get it. */
export interface Need {
  ok: boolean
  reason?: string
}

/** A suite's need is missing in CI, where skipping is not allowed. */
export class MissingTestDependencyError extends Error {
  static override name = 'MissingTestDependencyError'

  constructor (message: string) {
    super(message)
    this.name = 'MissingTestDependencyError'
  }
}

export interface SuiteNeedsOptions {
  /**
   * Where `CI` is read.
   * @default process.env
   */
  env?: Record<string, string | undefined>
  /**
   * Where the skip notice goes.
   * @default process.stderr.write
   */
  write?: (text: string) => void
}

/** True when `env.CI` says this is a CI run (any value but '', '0', 'false'). */
export function isCI (env: Record<string, string | undefined> = process.env): boolean {
  const v = env.CI
  return v != null && v !== '' && v !== '0' && v.toLowerCase() !== 'false'
}

/** A {@link Need} from a condition and the reason to give when it is false. */
export function need (ok: boolean, reason: string): Need {
  return ok ? { ok: true } : { ok: false, reason }
}

const announced = new Set<string>()

/**
 * Checks a suite's needs. Returns `false` when all are met (run the suite) and
 * `true` when one is missing outside CI (skip it: the reason was printed).
 * Throws {@link MissingTestDependencyError} when one is missing in CI.
 * Meant for `describe.skipIf(suiteNeeds(…))`, `it.skipIf(suiteNeeds(…))` and
 * global setups.
 */
export function suiteNeeds (suite: string, needs: Need | Need[], options: SuiteNeedsOptions = {}): boolean {
  const missing = (Array.isArray(needs) ? needs : [needs]).filter(n => !n.ok).map(n => n.reason ?? 'unknown reason')
  if (missing.length === 0) return false
  const what = missing.join('; ')
  if (isCI(options.env ?? process.env)) {
    const hint = what.includes('install-test-deps.sh') ? '' : ' (scripts/install-test-deps.sh installs what the suites need, as root)'
    throw new MissingTestDependencyError(`${suite} cannot run in CI (CI is set, so they may not skip): ${what}${hint}`)
  }
  const notice = `\n*** ${suite} SKIPPED: ${what} (CI is unset; in CI this fails the run) ***\n\n`
  const key = `${suite}\n${what}`
  if (options.write != null) options.write(notice)
  else if (!announced.has(key)) {
    announced.add(key)
    process.stderr.write(notice)
  }
  return true
}
