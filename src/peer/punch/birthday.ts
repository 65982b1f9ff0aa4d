import { HARD_SOCKETS, MAX_PREDICTION_WINDOW, MAX_SEQUENCE_STEP, NAT_PORT_MAX, NAT_PORT_MIN } from './constants.ts'

/**
 * Chance that `probes` distinct random ports out of `range` hit at least one
 * of `open` ports the hard side holds (hypergeometric, exact):
 * 1 − Π_{i<probes} (range − open − i) / (range − i).
 */
export function birthdaySuccess (open: number, probes: number, range: number = NAT_PORT_MAX - NAT_PORT_MIN + 1): number {
  if (open <= 0 || probes <= 0) return 0
  if (open + probes > range) return 1
  let miss = 1
  for (let i = 0; i < probes; i++) miss *= (range - open - i) / (range - i)
  return 1 - miss
}

/** Probes needed for a chance of at least `p` (0 < p < 1), or undefined if the range cannot give it. */
export function probesFor (p: number, open: number, range: number = NAT_PORT_MAX - NAT_PORT_MIN + 1): number | undefined {
  for (let k = 1; k <= range - open; k++) if (birthdaySuccess(open, k, range) >= p) return k
  return undefined
}

/**
 * What the hard side learnt of its NAT's port allocation: the ports a STUN
 * server saw just before and just after its burst of sockets.
 */
export interface SequenceHint {
  before: number
  after: number
}

/** A public address as a STUN server saw it. */
export interface MappedAddress {
  ip: string
  port: number
}

/**
 * Whether two flows in a row, opened one after the other towards the same
 * STUN server, show a NAT that hands out ports in sequence: the same public
 * IP and a small forward step (others may take a few ports meanwhile). A
 * random NAT gives a step of any size and sign; a wrap of the NAT's range
 * between the two gives a negative one.
 */
export function looksSequential (earlier: MappedAddress | undefined, later: MappedAddress | undefined): boolean {
  if (earlier == null || later == null || earlier.ip !== later.ip) return false
  const step = later.port - earlier.port
  return step > 0 && step <= MAX_SEQUENCE_STEP
}

/**
 * The ports the hard side's burst probably got, from a sequence hint: those
 * between before and after (exclusive) when they are a plausible sequence.
 * When after < before the NAT's sequence may have wrapped at the end of its
 * range (an end this side cannot know): then the `width` ports after
 * `before` and the `width` ports before `after`. Otherwise [].
 */
export function predictedPorts (hint: SequenceHint | undefined, width: number = HARD_SOCKETS): number[] {
  if (hint == null) return []
  const out: number[] = []
  const add = (from: number, to: number): void => {
    for (let p = from; p <= to; p++) if (p >= NAT_PORT_MIN && p <= NAT_PORT_MAX) out.push(p)
  }
  const span = hint.after - hint.before
  if (span >= 2 && span <= MAX_PREDICTION_WINDOW) add(hint.before + 1, hint.after - 1)
  else if (span < 0) {
    add(hint.before + 1, hint.before + width)
    add(hint.after - width, hint.after - 1)
  }
  return out
}

/**
 * The ports the easy side probes, in order: the predicted ones first, then
 * distinct random ports of the NAT range, `max` in all.
 */
export function probeOrder (max: number, predicted: number[] = [], random: () => number = Math.random): number[] {
  const seen = new Set<number>()
  const out: number[] = []
  for (const p of predicted) {
    if (out.length >= max) return out
    if (!seen.has(p)) { seen.add(p); out.push(p) }
  }
  const range = NAT_PORT_MAX - NAT_PORT_MIN + 1
  const want = Math.min(max, range)
  while (out.length < want) {
    const p = NAT_PORT_MIN + Math.floor(random() * range)
    if (!seen.has(p)) { seen.add(p); out.push(p) }
  }
  return out
}
