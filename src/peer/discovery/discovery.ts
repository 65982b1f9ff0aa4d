import { setTimeout as delay } from 'node:timers/promises'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import type { PeerId } from '@libp2p/interface'
import type { Libp2p } from 'libp2p'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Logger } from '../logger.ts'

/**
 * Finding a share by its peer id (or a name it publishes) through the
 * Kademlia DHT. See docs/discovery.md for the design.
 *
 * A share announces itself as the *provider* of a key derived from its own
 * peer id. DHT servers store a provider record only for the peer that sent
 * it (the sender is authenticated by the connection), and hand out the
 * provider's addresses with it; so only the share can make itself findable
 * under its key, and a connector keeps only providers whose id is the one it
 * looks for. Provider records are understood by every Kademlia DHT node of
 * the libp2p family, including the public Amino DHT, so beam needs no record
 * type of its own and works on the largest existing network.
 */

/** Raw-codec CIDs: the key is a hash, not content. */
const RAW = 0x55

async function keyOf (text: string): Promise<CID> {
  return CID.createV1(RAW, await sha256.digest(new TextEncoder().encode(text)))
}

/** The DHT key under which a share with this peer id announces itself. */
export async function peerKey (peerId: PeerId | string): Promise<CID> {
  return await keyOf(`/beam/peer/v1/${peerId.toString()}`)
}

/** The DHT key under which a share announces a name (see {@link parseNameTarget}). */
export async function nameKey (name: string): Promise<CID> {
  return await keyOf(`/beam/name/v1/${name}`)
}

/**
 * The text behind the DHT key under which relays announce themselves
 * ({@link relayKey}). Versioned like the other keys: a relay that speaks a
 * different relay protocol one day announces under `/beam/relay/v2`.
 */
export const RELAY_KEY_TEXT = '/beam/relay/v1'

/**
 * The well-known DHT key of relays: every `beam relay` (and library node
 * running a relay server) that advertises itself is a provider of it; a share
 * that needs relays asks the DHT for its providers. The same for everyone,
 * so any node can claim it: a share checks each provider before it uses it.
 */
export async function relayKey (): Promise<CID> {
  return await keyOf(RELAY_KEY_TEXT)
}

/** Share names (and aliases): 1–63 of a-z 0-9 and '-', not starting or ending with '-'. */
export const SHARE_NAME_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/

/** @deprecated the same as {@link SHARE_NAME_RE} (records have {@link RECORD_NAME_RE}). */
export const NAME_RE = SHARE_NAME_RE

/**
 * Shortest peer-id prefix of the current `name.prefix` form: 24 characters of
 * an Ed25519 peer id, the fixed '12D3KooW' and 16 base58 digits (~93 bits):
 * far beyond grinding a key whose id starts the same. The form a share prints.
 */
export const MIN_PREFIX = 24

/**
 * Shortest prefix still looked up, as a deprecated form: 16 characters
 * ('12D3KooW' + 8 digits, ~46 bits), which a determined attacker can match by
 * generating about 2^45 keys. Such a name resolves only to the single
 * provider that matches, with a warning (see {@link selectNameProvider}).
 */
export const LEGACY_MIN_PREFIX = 16

/** A name's peer-id prefix shorter than the shortest accepted one. */
export class NamePrefixError extends Error {
  /** The shortest prefix accepted. */
  readonly minimum: number
  constructor (message: string, minimum: number) {
    super(message)
    this.name = 'NamePrefixError'
    this.minimum = minimum
  }
}

/** Several providers of a name match its peer-id prefix: which one is meant cannot be told. */
export class AmbiguousNameError extends Error {
  /** How many peers matched. */
  readonly matches: number
  constructor (message: string, matches: number) {
    super(message)
    this.name = 'AmbiguousNameError'
    this.matches = matches
  }
}

/** Bounds of {@link selectNameProvider}; the defaults are beam's. */
export interface PrefixRules {
  /** Shortest prefix of the current form. @default MIN_PREFIX (24) */
  minPrefix?: number
  /** Shortest prefix of the deprecated form. @default LEGACY_MIN_PREFIX (16) */
  legacyMinPrefix?: number
}

/** Whether a prefix is of the current form (`ok`), the deprecated one (`legacy`); throws NamePrefixError if shorter. */
export function checkNamePrefix (target: NameTarget, rules: PrefixRules = {}): 'ok' | 'legacy' {
  const min = rules.minPrefix ?? MIN_PREFIX
  const legacy = rules.legacyMinPrefix ?? LEGACY_MIN_PREFIX
  if (target.prefix.length >= min) return 'ok'
  if (target.prefix.length >= legacy) return 'legacy'
  throw new NamePrefixError(`'${target.name}.${target.prefix}': the peer id part of a name must be at least ${min} characters (it is what binds the name to a key)`, min)
}

/** A provider of a name found in the DHT. */
export interface NameProvider {
  /** Its peer id. */
  peerId: PeerId
  /** Its addresses. */
  multiaddrs: Multiaddr[]
}

/** The provider a name resolved to. */
export interface SelectedNameProvider extends NameProvider {
  /** The name used the deprecated 16–23-character prefix: the caller warns and names the full peer id. */
  legacy: boolean
}

/**
 * Which provider `name.prefix` means: the providers whose peer id starts with
 * the prefix must be exactly one. None: an Error (not found). Two or more:
 * AmbiguousNameError (someone made a key that matches the prefix; never
 * chosen). A deprecated short prefix (16–23 characters) resolves by the same
 * rule and is marked `legacy`, so that the caller warns and names the full
 * peer id; a shorter one is a NamePrefixError.
 */
export function selectNameProvider (target: NameTarget, providers: Iterable<NameProvider>, rules: PrefixRules = {}): SelectedNameProvider {
  const form = checkNamePrefix(target, rules)
  const matching = new Map<string, NameProvider>()
  for (const p of providers) {
    const id = p.peerId.toString()
    if (!id.startsWith(target.prefix)) continue
    const prev = matching.get(id)
    matching.set(id, { peerId: p.peerId, multiaddrs: [...(prev?.multiaddrs ?? []), ...p.multiaddrs] })
  }
  const label = `${target.name}.${target.prefix}`
  if (matching.size === 0) throw new Error(`no share named '${target.name}' with a peer id starting ${target.prefix}`)
  if (matching.size > 1) {
    const longer = form === 'legacy' ? `use the ${rules.minPrefix ?? MIN_PREFIX}-character form (or the peer id)` : 'use a longer prefix or the peer id'
    throw new AmbiguousNameError(`'${label}' is ambiguous: ${matching.size} peers announcing '${target.name}' have a peer id starting ${target.prefix} (one of them made its key to match); ${longer}`, matching.size)
  }
  const [one] = [...matching.values()]
  if (one == null) throw new Error('not found')
  return { ...one, legacy: form === 'legacy' }
}

/** A name target, `name.peer-id-prefix`, split. */
export interface NameTarget {
  /** The name, as published by its owner. */
  name: string
  /** The start of the owner's peer id (at least {@link MIN_PREFIX} characters). */
  prefix: string
}

/** `myapp.12D3KooWAbCdEfGh…` → name and peer-id prefix; undefined if not that shape. */
export function parseNameTarget (text: string): NameTarget | undefined {
  const dot = text.indexOf('.')
  if (dot <= 0) return undefined
  const name = text.slice(0, dot)
  const prefix = text.slice(dot + 1)
  if (!SHARE_NAME_RE.test(name) || !/^[1-9A-HJ-NP-Za-km-z]+$/.test(prefix)) return undefined
  return { name, prefix }
}

/** The DHT part of libp2p that discovery uses (content routing). */
type Router = Pick<Libp2p, 'contentRouting' | 'peerRouting'>

/** Options of {@link lookupPeer} and {@link lookupName}. */
export interface LookupOptions {
  /** Bounds the lookup. */
  signal: AbortSignal
  /** Where to log the lookup's steps. @default silent */
  log?: Logger
}

/** A peer found in the DHT. */
export interface LookupResult {
  /** The peer. */
  peerId: PeerId
  /** Its addresses. */
  multiaddrs: Multiaddr[]
  /** How long the lookup took, in ms. */
  ms: number
  /** For a name: it used the deprecated short prefix (16–23 characters). */
  legacy?: boolean
}

/**
 * Ask the DHT for the addresses of `peerId`: providers of its key that are
 * the peer itself; only when that walk ends without one, a peer-routing
 * lookup (it finds peers that are DHT servers themselves: servers answer
 * peer lookups from their routing tables, which hold no clients, so for a
 * share, a DHT client, it could only add a second walk). Rejects when both
 * end empty or the signal aborts.
 */
export async function lookupPeer (libp2p: Router, peerId: PeerId, options: LookupOptions): Promise<LookupResult> {
  const start = performance.now()
  const key = await peerKey(peerId)
  const stop = new AbortController()
  const signal = AbortSignal.any([options.signal, stop.signal])
  const viaProviders = async (): Promise<Multiaddr[]> => {
    for await (const p of libp2p.contentRouting.findProviders(key, { signal })) {
      if (!p.id.equals(peerId)) {
        // someone else claims to provide this peer's key: useless (and maybe hostile)
        options.log?.debug({ provider: p.id.toString() }, 'ignoring a provider record of another peer')
        continue
      }
      if (p.multiaddrs.length > 0) return p.multiaddrs
    }
    throw new Error('no provider record')
  }
  const viaPeerRouting = async (): Promise<Multiaddr[]> => {
    const info = await libp2p.peerRouting.findPeer(peerId, { signal })
    if (info.multiaddrs.length === 0) throw new Error('no addresses')
    return info.multiaddrs
  }
  try {
    let multiaddrs: Multiaddr[]
    try {
      multiaddrs = await viaProviders()
    } catch (err) {
      options.signal.throwIfAborted()
      try {
        multiaddrs = await viaPeerRouting()
      } catch (err2) {
        options.signal.throwIfAborted()
        throw new AggregateError([err, err2])
      }
    }
    return { peerId, multiaddrs, ms: Math.round(performance.now() - start) }
  } catch (err) {
    options.signal.throwIfAborted()
    const reasons = err instanceof AggregateError ? [...new Set(err.errors.map(e => (e as Error).message))].join('; ') : (err as Error).message
    throw new Error(`no record: ${reasons}`)
  } finally {
    stop.abort()
  }
}

/** DHT walks for a name before it is reported as not found. */
export const NAME_LOOKUP_ATTEMPTS = 3
/** Wait before the second walk for a name, in ms (doubled before the third). */
export const NAME_LOOKUP_RETRY_DELAY = 1000

/**
 * Resolve `name.prefix`: providers of the name's key whose peer id starts
 * with the prefix. Exactly one must match (two would mean someone ground a
 * key to collide with the prefix: refused as ambiguous, AmbiguousNameError).
 * A deprecated short prefix is resolved by the same rule and logged as a
 * warning that names the full peer id; a prefix shorter than that is a
 * NamePrefixError before any lookup.
 */
export async function lookupName (libp2p: Router, target: NameTarget, options: LookupOptions & PrefixRules): Promise<LookupResult> {
  const start = performance.now()
  checkNamePrefix(target, options)
  const key = await nameKey(target.name)
  const found = new Map<string, { peerId: PeerId, multiaddrs: Multiaddr[] }>()
  // A name has only its provider records (a peer id also has peer routing):
  // a walk that misses the few nodes holding them, as happens on a young or
  // changing network, is tried again a little later along other paths.
  for (let attempt = 1; found.size === 0 && attempt <= NAME_LOOKUP_ATTEMPTS; attempt++) {
    if (attempt > 1) {
      options.log?.info({ name: target.name, attempt }, 'no provider of the name found yet; looking again')
      await delay(NAME_LOOKUP_RETRY_DELAY * (attempt - 1), undefined, { signal: options.signal })
    }
    try {
      for await (const p of libp2p.contentRouting.findProviders(key, { signal: options.signal })) {
        if (!p.id.toString().startsWith(target.prefix)) continue
        const prev = found.get(p.id.toString())
        found.set(p.id.toString(), { peerId: p.id, multiaddrs: [...(prev?.multiaddrs ?? []), ...p.multiaddrs] })
      }
    } catch (err) {
      options.signal.throwIfAborted()
      if (found.size === 0 && attempt === NAME_LOOKUP_ATTEMPTS) throw err
    }
  }
  const one = selectNameProvider(target, found.values(), options)
  if (one.legacy) {
    const id = one.peerId.toString()
    options.log?.warn({ name: target.name, prefix: target.prefix, peer: id },
      `'${target.name}.${target.prefix}' has a ${target.prefix.length}-character peer-id prefix, a deprecated form: a key matching so few characters can be made on purpose. It resolved to the only match, ${id}; if that is the peer you mean, use ${target.name}.${id.slice(0, options.minPrefix ?? MIN_PREFIX)}`)
  }
  return { peerId: one.peerId, multiaddrs: one.multiaddrs, ms: Math.round(performance.now() - start), legacy: one.legacy }
}

/** Announce this node under its peer key (and names). Resolves when the DHT took it. */
export async function publish (libp2p: Router & Pick<Libp2p, 'peerId'>, names: string[], options: { signal: AbortSignal }): Promise<void> {
  const keys = [await peerKey(libp2p.peerId), ...await Promise.all(names.map(async n => await nameKey(n)))]
  await Promise.all(keys.map(async k => { await libp2p.contentRouting.provide(k, { signal: options.signal }) }))
}
