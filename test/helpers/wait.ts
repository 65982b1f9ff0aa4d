/**
 * Waiting for a condition instead of sleeping a fixed time: polls `check`
 * (every `everyMs`) until it holds, and fails naming `what` after `timeoutMs`.
 * For states that raise no event a test can listen to (a peer store entry, a
 * routing table); where there is an event, wait for the event.
 */
export async function waitUntil (what: string, check: () => boolean | Promise<boolean>, options: { timeoutMs?: number, everyMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 30_000
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, options.everyMs ?? 50))
  }
}
