/**
 * The one place the CLI builds a `BeamInit`: from the merged node settings,
 * the identity they name, and what the command adds (listen addresses,
 * backends, relay limits).
 */
import type { BeamInit } from '../../peer/index.ts'
import { resolveIdentity } from '../context.ts'
import type { Context, IdentityKind } from '../context.ts'
import { homePaths } from '../home.ts'
import type { NodeSettings } from './node.ts'

/** A BeamInit and where its key came from (for the banner and the `ready` event). */
export type CliBeamInit = BeamInit & { identityPath?: string, identityKind: IdentityKind }

/** The parts of a node that belong to one command. */
export type CommandInit = Pick<BeamInit, 'listen' | 'announce' | 'reservations' | 'backends' | 'listenOnBackends' | 'lookupTimeout' | 'relayServer' | 'relayAllow' | 'relayAdvertise'>

/** What {@link toBeamInit} needs besides the settings. */
export interface ToBeamInitOptions {
  ctx: Context
  /**
   * An anonymous-only node's networks: it then uses no bootstrap node, ICE
   * server, DHT or address book. @default none (a clearnet node)
   */
  anonymous?: string[]
  /**
   * An anonymous-only share keeps its own identity and secret
   * (`identity-<set>.json`): the clearnet ones would link the two. A
   * connector uses a throwaway key instead (its settings say ephemeral).
   * @default false
   */
  anonymousIdentity?: boolean
  /** The command's own parts. @default none */
  node?: CommandInit
}

/** The settings as the library's init, reading or creating the identity they name. */
export async function toBeamInit (settings: NodeSettings, options: ToBeamInitOptions): Promise<CliBeamInit> {
  const { ctx } = options
  const anonymous = options.anonymous != null && options.anonymous.length > 0
  const id = await resolveIdentity(settings.identity, ctx, anonymous && options.anonymousIdentity === true ? options.anonymous : undefined)
  const init: CliBeamInit = {
    identityKind: id.kind,
    iceServers: anonymous ? [] : settings.iceServers,
    bootstrap: anonymous ? [] : settings.bootstrap.map(n => n.multiaddr),
    transports: { webrtc: settings.webrtc },
    dht: anonymous ? false : settings.dht,
    logger: ctx.log,
    ...options.node
  }
  // a node on an anonymity network remembers no peer's addresses
  if (!anonymous) init.addressBook = homePaths(ctx.home).addressBook
  if (id.privateKey != null) init.privateKey = id.privateKey
  if (id.path != null) init.identityPath = id.path
  if (settings.webrtcBindAddress != null) init.webrtcBindAddress = settings.webrtcBindAddress
  return init
}
