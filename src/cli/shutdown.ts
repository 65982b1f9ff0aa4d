import type { BeamNode, Logger } from '../peer/index.ts'

/** Stop a node, but never take longer than `ms`: a stuck transport must not hold the exit. */
export async function stopWithin (node: BeamNode, log: Logger, ms = 1500): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'timeout'>(resolve => { timer = setTimeout(() => { resolve('timeout') }, ms) })
  const r = await Promise.race([node.stop().then(() => 'stopped' as const, (err: Error) => { log.debug({ err: err.message }, 'error while stopping'); return 'stopped' as const }), deadline])
  clearTimeout(timer)
  if (r === 'timeout') log.debug('node did not stop in time; exiting anyway')
}
