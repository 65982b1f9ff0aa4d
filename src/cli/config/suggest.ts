/** "did you mean": the nearest allowed word to what was typed. */

/** Edit distance counting a swap of neighbours as one edit, for "did you mean" suggestions. */
function distance (a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  const at = (i: number, j: number): number => d[i]?.[j] ?? 0
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let v = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, at(i - 2, j - 2) + 1)
      const row = d[i]
      if (row != null) row[j] = v
    }
  }
  return at(a.length, b.length)
}

/** `did you mean 'x'?` or the list of what is allowed. */
export function suggest (word: string, choices: readonly string[]): string {
  const lower = word.toLowerCase()
  let best: string | undefined
  let bestD = Infinity
  for (const c of choices) {
    const d = c.toLowerCase() === lower ? 0 : distance(lower, c.toLowerCase())
    if (d < bestD) { best = c; bestD = d }
  }
  if (best != null && bestD <= Math.max(1, Math.min(3, Math.floor(best.length / 3)))) return `did you mean '${best}'?`
  // `port` for `localPort`: the word is the tail of one choice
  const tail = lower.length >= 3 ? choices.filter(c => c.toLowerCase().endsWith(lower)) : []
  if (tail.length === 1) return `did you mean '${tail[0] ?? ''}'?`
  return `expected one of: ${choices.join(', ')}`
}
