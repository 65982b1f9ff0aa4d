/** Small statistics helpers for the benchmark: medians and percentiles of samples. */

/** The median of `xs` (mean of the two middle values for an even count); NaN when empty. */
export function median (xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2
}

/** The p-th percentile (0-100) of `xs`, nearest-rank; NaN when empty. */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))
  return s[rank] ?? NaN
}

/** Round to `digits` decimals; keeps null for missing figures. */
export function round (x: number | null | undefined, digits = 2): number | null {
  if (x == null || !Number.isFinite(x)) return null
  const f = 10 ** digits
  return Math.round(x * f) / f
}
