/**
 * What a test file of in-process beam nodes on loopback repeats: a list of
 * cleanups run after each test, and a plain node that is stopped with them.
 */
import { afterEach } from 'vitest'
import { createBeam } from '../../src/peer/index.ts'
import type { BeamNode } from '../../src/peer/index.ts'

export interface TestNodes {
  /** Run after each test, the last added first; a failing one does not stop the rest. */
  cleanups: Array<() => Promise<void>>
  /** A node listening on 127.0.0.1 (TCP only, no DHT), stopped after the test. */
  beam: () => Promise<BeamNode>
}

/** Call at the top of a test file: registers the afterEach hook that runs the cleanups. */
export function testNodes (): TestNodes {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
  })
  const beam = async (): Promise<BeamNode> => {
    const n = await createBeam({ listen: ['/ip4/127.0.0.1/tcp/0'], dht: false, transports: { webrtc: false, quic: false } })
    cleanups.push(async () => { await n.stop() })
    return n
  }
  return { cleanups, beam }
}
