/**
 * Only the CLI builds the logger: the library takes any object with the
 * methods of its Logger interface (a pino logger fits), defaults to a silent
 * one, and never loads pino itself.
 */
import { execFileSync } from 'node:child_process'
import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { libp2pComponentLogger, silentLogger } from '../../../src/peer/logger.ts'
import type { Logger } from '../../../src/peer/logger.ts'

describe('logger', () => {
  it('the default logger drops everything and needs no pino', () => {
    const log = silentLogger()
    expect(log.child({ component: 'x' }).isLevelEnabled('error')).toBe(false)
    expect(() => { log.info({ a: 1 }, 'hello'); log.warn('w'); log.error('e'); log.debug('d'); log.trace('t') }).not.toThrow()
    const c = libp2pComponentLogger(log).forComponent('dialer')
    expect(c.enabled).toBe(false)
  })

  it('a pino logger is a Logger as it is', () => {
    const lines: string[] = []
    const log: Logger = pino({ level: 'trace', base: undefined }, { write: (s: string) => { lines.push(s) } })
    libp2pComponentLogger(log).forComponent('dialer')('dialling %s', 'x')
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ component: 'libp2p:dialer', msg: 'dialling x' })
  })

  it('loading the library loads no pino', () => {
    const entry = new URL('../../../src/index.ts', import.meta.url).href
    const probe = `
      import { registerHooks } from 'node:module';
      const seen = [];
      registerHooks({ resolve (s, c, next) { if (/^pino(-|$|\\/)/.test(s)) seen.push(s); return next(s, c) } });
      const beam = await import(${JSON.stringify(entry)});
      beam.silentLogger().info('x');
      console.log(JSON.stringify(seen));`
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', probe], { cwd: new URL('../../..', import.meta.url).pathname }).toString()
    expect(JSON.parse(out)).toEqual([])
  })
})
