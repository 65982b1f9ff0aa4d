/**
 * A bounded retry that does not hide the failures it retries: it counts the
 * tries, prints one line saying how many were needed (and why the failed ones
 * failed), and hands the count back so that the test can fail when more than
 * one was needed. The retries are there to tell a flaky first attempt from a
 * broken feature in the report, not to make the test pass.
 */

export interface Tried<T> {
  value: T
  /** 1 when the first try succeeded. */
  tries: number
  /** The failed tries' errors, in order. */
  errors: Error[]
}

export interface TriesOptions {
  /** Run between a failed try and the next (a backoff, a fresh resource). */
  beforeRetry?: (failedTry: number, err: Error) => Promise<void>
  /**
   * Where the line goes.
   * @default console.log
   */
  log?: (line: string) => void
}

/** A test that needed more than one try: the message names every failed try. */
export function triesReport (what: string, tried: { tries: number, errors: Error[] }): string {
  return `${what}: needed ${tried.tries} tries${tried.errors.length > 0 ? ` (${tried.errors.map((e, i) => `try ${i + 1}: ${e.message}`).join('; ')})` : ''}`
}

/** Runs `attempt` up to `maxTries` times; throws the last error when none succeeds. */
export async function withTries<T> (what: string, maxTries: number, attempt: (tryNo: number) => Promise<T>, options: TriesOptions = {}): Promise<Tried<T>> {
  const log = options.log ?? ((line: string) => { console.log(line) })
  const errors: Error[] = []
  for (let tryNo = 1; tryNo <= maxTries; tryNo++) {
    const started = Date.now()
    try {
      const value = await attempt(tryNo)
      log(`${what}: succeeded on try ${tryNo} of at most ${maxTries} (${Date.now() - started} ms)${errors.length > 0 ? `; ${triesReport(what, { tries: tryNo, errors })}` : ''}`)
      return { value, tries: tryNo, errors }
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err))
      errors.push(e)
      log(`${what}: try ${tryNo} of at most ${maxTries} failed after ${Date.now() - started} ms: ${e.message}`)
      if (tryNo === maxTries) {
        e.message = `${triesReport(what, { tries: tryNo, errors })}, none succeeded`
        throw e
      }
      await options.beforeRetry?.(tryNo, e)
    }
  }
  throw new Error(`${what}: maxTries must be at least 1`)
}
