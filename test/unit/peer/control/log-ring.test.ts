import { describe, it, expect } from 'vitest'
import { LogRing } from '../../../../src/peer/control/index.ts'

describe('LogRing', () => {
  it('keeps the newest lines up to its line count, oldest first', () => {
    const ring = new LogRing({ maxLines: 3 })
    for (let i = 1; i <= 5; i++) ring.push(`line ${i}\n`)
    expect(ring.lines().map(e => e.line)).toEqual(['line 3', 'line 4', 'line 5'])
    expect(ring.size).toBe(3)
  })

  it('keeps at most maxChars characters, but always the newest line', () => {
    const ring = new LogRing({ maxChars: 10 })
    ring.push('aaaa')
    ring.push('bbbb')
    ring.push('cccc')
    expect(ring.lines().map(e => e.line)).toEqual(['bbbb', 'cccc'])
    ring.push('x'.repeat(50))
    expect(ring.lines().map(e => e.line)).toEqual(['x'.repeat(50)])
  })

  it('cuts an over-long line', () => {
    const ring = new LogRing({ maxLineChars: 5 })
    ring.push('0123456789')
    expect(ring.lines()[0]?.line).toBe('01234')
  })

  it('stays bounded over many more lines than it keeps', () => {
    const ring = new LogRing({ maxLines: 100 })
    for (let i = 0; i < 50_000; i++) ring.push(`l${i}`)
    const lines = ring.lines()
    expect(lines).toHaveLength(100)
    expect(lines[0]?.line).toBe('l49900')
    expect(lines[99]?.line).toBe('l49999')
  })

  it('gives the lines since a time', () => {
    let now = 1000
    const ring = new LogRing({ now: () => now })
    ring.push('old')
    now = 2000
    ring.push('new')
    expect(ring.lines(1500).map(e => e.line)).toEqual(['new'])
    expect(ring.lines(2000).map(e => e.line)).toEqual(['new'])
    expect(ring.lines(0).map(e => e.line)).toEqual(['old', 'new'])
  })

  it('tells followers of each new line until they stop following', () => {
    const ring = new LogRing()
    const seen: string[] = []
    const stop = ring.follow(e => { seen.push(e.line) })
    ring.push('a')
    ring.push('b')
    stop()
    ring.push('c')
    expect(seen).toEqual(['a', 'b'])
  })
})
