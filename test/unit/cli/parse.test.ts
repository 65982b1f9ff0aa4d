import { describe, it, expect } from 'vitest'
import { resolve } from 'node:path'
import { ipv6BracketHint, numberServices, parseBindAddress, parsePort, parsePortProtocol, parseService, parseMillis, parseUnixAddress, splitList } from '../../../src/cli/parse.ts'
import { parseHostPort } from '../../../src/cli/backend-flags.ts'
import { hostPort } from '../../../src/tunnel/index.ts'
import { parseIceServer } from '../../../src/cli/context.ts'

describe('port parsing', () => {
  it('accepts 1-65535', () => {
    expect(parsePort('1')).toBe(1)
    expect(parsePort('65535')).toBe(65535)
    expect(parsePort(' 3000 ')).toBe(3000)
  })
  it.each(['0', '70000', 'abc', '-1', '3000.5', '', '1e3', '0x10', '123456'])('rejects %s as InvalidPortError', (s) => {
    expect(() => parsePort(s)).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
  })
  it('accepts 0 only where allowed', () => {
    expect(parsePort('0', 'local port', true)).toBe(0)
  })
})

describe('service parsing', () => {
  it('reads PORT, HOST:PORT and [V6]:PORT', () => {
    expect(parseService('3000')).toEqual({ port: 3000 })
    expect(parseService('10.0.0.5:22')).toEqual({ host: '10.0.0.5', port: 22 })
    expect(parseService('localhost:5432')).toEqual({ host: 'localhost', port: 5432 })
    expect(parseService('[::1]:8080')).toEqual({ host: '::1', port: 8080 })
  })
  it('reads unix:PATH (made absolute) and numbers unix services from the lowest port no other service uses', () => {
    expect(parseService('unix:/run/app.sock')).toEqual({ port: 0, path: '/run/app.sock' })
    expect(parseService('unix:app.sock')).toEqual({ port: 0, path: resolve('app.sock') })
    expect(() => parseService('unix:')).toThrow(expect.objectContaining({ name: 'UsageError' }))
    expect(parseUnixAddress('127.0.0.1:80', '--listen')).toBeUndefined()
    const numbered = numberServices(['unix:/a.sock', '1', 'unix:/b.sock', '3'].map(parseService))
    expect(numbered.map(s => s.port)).toEqual([2, 1, 4, 3])
  })
  it('reads PORT/udp, HOST:PORT/udp and PORT/tcp; a UDP service takes no unix number', () => {
    expect(parseService('5353/udp')).toEqual({ port: 5353, udp: true })
    expect(parseService('10.0.0.5:53/UDP')).toEqual({ host: '10.0.0.5', port: 53, udp: true })
    expect(parseService('8080/tcp')).toEqual({ port: 8080 })
    expect(() => parseService('53/tcp/udp')).toThrow(expect.objectContaining({ name: 'UsageError' }))
    expect(() => parseService('0/udp')).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
    expect(numberServices(['1/udp', 'unix:/a.sock'].map(parseService)).map(s => s.port)).toEqual([1, 1])
    expect(parsePortProtocol('53/udp')).toEqual({ port: 53, udp: true })
    expect(parsePortProtocol('53')).toEqual({ port: 53, udp: false })
    expect(() => parseService('::1:5353/udp')).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('[::1]:5353') }))
  })
  it('an IPv6 address without brackets is a usage error that says where they go', () => {
    expect(() => parseService('::1:28901')).toThrow(expect.objectContaining({ name: 'UsageError', message: 'invalid service \'::1:28901\': an IPv6 address goes in brackets, as in [::1]:28901' }))
    expect(() => parseService('fe80::1')).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('[fe80::1]:PORT') }))
    expect(() => parseBindAddress('::1:9090', '--metrics')).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('[::1]:9090') }))
    expect(() => parseHostPort('::1:9051', '--tor-control')).toThrow(expect.objectContaining({ name: 'UsageError', message: expect.stringContaining('[::1]:9051') }))
    expect(ipv6BracketHint('[::1]:80')).toBeUndefined()
    expect(ipv6BracketHint('db.lan:5432')).toBeUndefined()
    expect(ipv6BracketHint('a:b:c')).toBe('an IPv6 address goes in brackets, as in [ADDRESS]:PORT')
  })
  it('host:port text brackets IPv6 hosts only', () => {
    expect(hostPort('::1', 80)).toBe('[::1]:80')
    expect(hostPort('127.0.0.1', 80)).toBe('127.0.0.1:80')
    expect(hostPort('db.lan', 5432)).toBe('db.lan:5432')
  })
  it('rejects bad ports inside HOST:PORT', () => {
    expect(() => parseService('host:0')).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
    expect(() => parseService('host:abc')).toThrow(expect.objectContaining({ name: 'InvalidPortError' }))
  })
})

describe('misc parsers', () => {
  it('parses durations', () => {
    expect(parseMillis('250', 'timeout')).toBe(250)
    expect(() => parseMillis('0', 'timeout')).toThrow(/milliseconds/)
    expect(() => parseMillis('soon', 'timeout')).toThrow(expect.objectContaining({ name: 'UsageError' }))
  })
  it('splits env lists', () => {
    expect(splitList(' a, ,b,')).toEqual(['a', 'b'])
    expect(splitList(undefined)).toEqual([])
  })
  it('parses ICE servers', () => {
    expect(parseIceServer('stun:127.0.0.1:3478')).toEqual({ urls: 'stun:127.0.0.1:3478' })
    expect(parseIceServer('turn:user:p%40ss@127.0.0.1:3478')).toEqual({ urls: 'turn:127.0.0.1:3478', username: 'user', credential: 'p@ss' })
    expect(() => parseIceServer('http://x')).toThrow(expect.objectContaining({ name: 'InvalidMultiaddrError' }))
  })
})

