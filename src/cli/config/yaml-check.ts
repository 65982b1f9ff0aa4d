/**
 * The general YAML-node checker: walks a parsed document, reads scalars,
 * lists and maps of the expected kind, and collects every problem with its
 * line instead of stopping at the first. It knows no section of the file.
 */
import { isMap, isScalar, isSeq } from 'yaml'
import type { LineCounter, Node, Pair, YAMLMap } from 'yaml'
import { suggest } from './suggest.ts'
import type { ConfigIssue, HostPort } from './schema.ts'

/** An empty record without a prototype, for maps keyed by names from the file. */
export function emptyRecord<T> (): Record<string, T> {
  return Object.create(null) as Record<string, T>
}

const show = (v: unknown): string => typeof v === 'string' ? `'${v}'` : v === null ? 'an empty value' : String(v)

/** Collects issues while walking the document. */
export class Reader {
  readonly issues: ConfigIssue[] = []
  private readonly file: string
  private readonly lines: LineCounter
  private readonly textLength: number

  constructor (file: string, lines: LineCounter, text: string) {
    this.file = file
    this.lines = lines
    this.textLength = text.trimEnd().length
  }

  at (offset: number, path: string, message: string): void {
    // an error found at the end of the text belongs to its last written line
    const pos = this.lines.linePos(Math.max(0, Math.min(offset, this.textLength - 1)))
    this.issues.push({ file: this.file, line: pos.line, column: pos.col, path, message })
  }

  fail (node: Node | null | undefined, path: string, message: string): void {
    this.at(node?.range?.[0] ?? 0, path, message)
  }

  lineOf (node: Node | null | undefined): number {
    return this.lines.linePos(node?.range?.[0] ?? 0).line
  }

  /**
   * The entries of a map whose keys must be among `allowed` (when given).
   * Reports a non-map, non-string keys and unknown keys.
   */
  map (node: Node | null | undefined, path: string, what: string, allowed?: readonly string[]): Array<{ key: string, keyNode: Node, value: Node | null }> | undefined {
    if (node == null || (isScalar(node) && node.value == null)) return []
    if (!isMap(node)) {
      this.fail(node, path, `expected ${what} (a map of key: value), got ${describe(node)}`)
      return undefined
    }
    const out: Array<{ key: string, keyNode: Node, value: Node | null }> = []
    for (const pair of (node as YAMLMap<unknown, unknown>).items as Array<Pair<unknown, unknown>>) {
      const keyNode = pair.key as Node | null
      if (keyNode == null || !isScalar(keyNode) || (typeof keyNode.value !== 'string' && typeof keyNode.value !== 'number')) {
        this.fail(keyNode ?? node, path, 'keys must be plain names')
        continue
      }
      const key = String(keyNode.value)
      const full = path === '' ? key : `${path}.${key}`
      if (allowed != null && !allowed.includes(key)) {
        this.fail(keyNode, full, `unknown key: ${suggest(key, allowed)}`)
        continue
      }
      out.push({ key, keyNode, value: (pair.value as Node | null) ?? null })
    }
    return out
  }
}

export function describe (node: Node | null | undefined): string {
  if (node == null) return 'nothing'
  if (isMap(node)) return 'a map'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) return show(node.value)
  return 'something else'
}

export function scalar (node: Node | null | undefined): unknown {
  return node != null && isScalar(node) ? node.value : undefined
}

export function readString (r: Reader, node: Node | null, path: string, what = 'a string'): string | undefined {
  const v = scalar(node)
  if (typeof v === 'string' && v.trim() !== '') return v.trim()
  r.fail(node, path, `expected ${what}, got ${describe(node)}`)
  return undefined
}

export function readBool (r: Reader, node: Node | null, path: string): boolean | undefined {
  const v = scalar(node)
  if (typeof v === 'boolean') return v
  r.fail(node, path, `expected true or false, got ${describe(node)}`)
  return undefined
}

export function readInt (r: Reader, node: Node | null, path: string, min: number, max: number, noun: string): number | undefined {
  const v = scalar(node)
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,9}$/.test(v.trim()) ? Number(v.trim()) : NaN
  if (Number.isInteger(n) && n >= min && n <= max) return n
  r.fail(node, path, `${describe(node)} is not ${noun} (${min}-${max})`)
  return undefined
}

export const readPort = (r: Reader, node: Node | null, path: string): number | undefined => readInt(r, node, path, 1, 65535, 'a port')

/** `dashboard:`: true, false, or a port on 127.0.0.1. */
export function readDashboard (r: Reader, node: Node | null, path: string): boolean | number | undefined {
  const v = scalar(node)
  if (typeof v === 'boolean') return v
  if (typeof v === 'number' || (typeof v === 'string' && /^\s*\d+\s*$/.test(v))) return readPort(r, node, path)
  r.fail(node, path, `expected true, false or a port (1-65535), got ${describe(node)}`)
  return undefined
}

export function readChoice<T extends string> (r: Reader, node: Node | null, path: string, choices: readonly T[]): T | undefined {
  const v = scalar(node)
  if (typeof v === 'string' && (choices as readonly string[]).includes(v)) return v as T
  r.fail(node, path, `${describe(node)} is not valid: ${typeof v === 'string' ? suggest(v, choices) : `expected one of: ${choices.join(', ')}`}`)
  return undefined
}

export function readList (r: Reader, node: Node | null, path: string, what: string): Array<Node | null> | undefined {
  if (node != null && isSeq(node)) return node.items as Array<Node | null>
  r.fail(node, path, `expected a list of ${what} (e.g. [a, b] or one '- item' per line), got ${describe(node)}`)
  return undefined
}

/** `host:port`, `[v6]:port`, or a bare port on 127.0.0.1 (as `--tor-control PORT`). */
export function readHostPort (r: Reader, node: Node | null, path: string): HostPort | undefined {
  if (typeof scalar(node) === 'number') {
    const port = readPort(r, node, path)
    return port == null ? undefined : { host: '127.0.0.1', port }
  }
  const text = readString(r, node, path, 'host:port')
  if (text == null) return undefined
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]\s]+):(\d{1,5})$/.exec(text)
  const port = m != null ? Number(m[2]) : NaN
  if (m == null || !(port >= 1 && port <= 65535)) {
    r.fail(node, path, `'${text}' is not host:port (e.g. 127.0.0.1:9051)`)
    return undefined
  }
  return { host: m[1] ?? '', port }
}
