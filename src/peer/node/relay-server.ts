import { RelayGuard, resolveRelayLimits, STOP_PROTOCOL } from '../../relay/index.ts'
import type { RelayAccounting, RelayCounters, RelayLimits, RelayService } from '../../relay/index.ts'
import type { Libp2p } from 'libp2p'
import type { BeamServices } from '../libp2p/libp2p-options.ts'
import type { Logger } from '../logger.ts'

/**
 * The relay server side of a node (what `beam relay` runs): its caps, grace
 * timers and counters installed on the circuit-relay service once libp2p has
 * started, and what it carries now ({@link RelayStats}).
 */

/** A relay node's state now (gauges) and since start (counters). */
export interface RelayStats extends RelayCounters {
  /** Reservations held now. */
  reservations: number
  /** Relayed connections open now. */
  circuits: number
  /** libp2p connections open now. */
  connections: number
}

/** Components and options of a {@link NodeRelayServer}. */
export interface NodeRelayServerInit {
  /** The node's libp2p (its `relay` service, when it runs one). */
  libp2p: Libp2p<BeamServices>
  /** The relay server's limits. @default unset (the node runs no relay server: nothing is installed) */
  limits?: RelayLimits | undefined
  /** Where to log. */
  log: Logger
}

/** The counters before any relay traffic (and of a node that is no relay). */
function zeroCounters (): RelayCounters {
  return { bytesRelayed: 0, reservationsAccepted: 0, circuitsAccepted: 0, refusals: {}, capRefusals: {}, reservationsDropped: 0, circuitsCut: {} }
}

/** The relay guard and accounting of one node. */
export class NodeRelayServer {
  private readonly libp2p: Libp2p<BeamServices>
  private readonly limits: RelayLimits | undefined
  private readonly log: Logger
  private guard: RelayGuard | undefined

  constructor (init: NodeRelayServerInit) {
    this.libp2p = init.libp2p
    this.limits = init.limits
    this.log = init.log
  }

  /** Counters of a relay node (undefined until {@link start} installed them, and on other nodes). */
  get accounting (): RelayAccounting | undefined { return this.guard?.accounting }

  /** Install the caps and counters on the started node's relay service, if it runs one. */
  async start (): Promise<void> {
    const relay = this.relayService()
    if (this.limits == null || relay == null) return
    const guard = new RelayGuard(resolveRelayLimits(this.limits))
    if (await guard.install(this.libp2p, relay)) this.guard = guard
    else this.log.warn('relay caps and counters unavailable (circuit-relay handler not found)')
  }

  /** Stop the grace timers. */
  stop (): void {
    this.guard?.stop()
  }

  /** What the node carries now and has carried since it started (zeros on a node that is not a relay). */
  stats (): RelayStats {
    const service = this.relayService() as { reservations?: { size: number } } | undefined
    let circuits = 0
    const conns = this.libp2p.getConnections()
    for (const c of conns) for (const st of c.streams) if (st.protocol === STOP_PROTOCOL) circuits++
    const totals = this.accounting?.counters ?? zeroCounters()
    return { reservations: service?.reservations?.size ?? 0, circuits, connections: conns.length, ...totals, refusals: { ...totals.refusals }, capRefusals: { ...totals.capRefusals }, circuitsCut: { ...totals.circuitsCut } }
  }

  private relayService (): RelayService | undefined {
    return (this.libp2p.services as Record<string, unknown>).relay as RelayService | undefined
  }
}
