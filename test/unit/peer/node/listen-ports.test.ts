import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect, beforeAll, afterAll } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { ListenPortBook, boundPorts, isAnyPort, rememberedListen, withPort } from '../../../../src/peer/node/listen-ports.ts'

let dir: string
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'beam-ports-')) })
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('ListenPortBook', () => {
  it('remembers ports per peer id (mode 0600) and reads a corrupt file as empty', async () => {
    const book = new ListenPortBook(join(dir, 'a', 'listen-ports.json'))
    expect(await book.get('peer-a')).toEqual({})
    await book.put('peer-a', { '/ip4/0.0.0.0/tcp/0': 4001 })
    await book.put('peer-b', { '/ip4/0.0.0.0/tcp/0': 4002 })
    expect(await book.get('peer-a')).toEqual({ '/ip4/0.0.0.0/tcp/0': 4001 })
    expect(await book.get('peer-b')).toEqual({ '/ip4/0.0.0.0/tcp/0': 4002 })
    await writeFile(book.path, '{oops')
    expect(await book.get('peer-a')).toEqual({})
  })

  it('drops ports that are not ports', async () => {
    const path = join(dir, 'bad.json')
    await writeFile(path, JSON.stringify({ version: 1, peers: { p: { ports: { a: 0, b: 70000, c: 'x', d: 1.5, e: 443 }, seen: 1 } } }))
    expect(await new ListenPortBook(path).get('p')).toEqual({ e: 443 })
  })
})

describe('rememberedListen', () => {
  it('asks for the remembered port when it is free, and a fresh one (moved) when a socket holds it', async () => {
    const held = createServer()
    await new Promise<void>(resolve => held.listen({ port: 0, host: '127.0.0.1' }, resolve))
    const taken = (held.address() as AddressInfo).port
    const probe = createServer()
    await new Promise<void>(resolve => probe.listen({ port: 0, host: '127.0.0.1' }, resolve))
    const free = (probe.address() as AddressInfo).port
    await new Promise<void>(resolve => probe.close(() => { resolve() }))
    try {
      const plan = await rememberedListen(
        ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/5555', '/webrtc'],
        { '/ip4/127.0.0.1/tcp/0': taken, '/ip4/127.0.0.1/udp/0/quic-v1': free }
      )
      expect(plan.listen).toEqual(['/ip4/127.0.0.1/tcp/0', `/ip4/127.0.0.1/udp/${free}/quic-v1`, '/ip4/127.0.0.1/tcp/5555', '/webrtc'])
      expect(plan.moved).toEqual([{ template: '/ip4/127.0.0.1/tcp/0', was: `/ip4/127.0.0.1/tcp/${taken}`, reason: 'address in use' }])
      expect([...plan.reused]).toEqual([[`/ip4/127.0.0.1/udp/${free}/quic-v1`, '/ip4/127.0.0.1/udp/0/quic-v1']])
    } finally {
      await new Promise<void>(resolve => held.close(() => { resolve() }))
    }
  })
})

describe('boundPorts and the address helpers', () => {
  it('reads the port of each any-port address from what the listeners report (wildcards once per interface)', () => {
    const ports = boundPorts(
      ['/ip4/0.0.0.0/tcp/0', '/ip6/::/udp/0/quic-v1', '/ip4/127.0.0.1/tcp/0', '/ip4/0.0.0.0/tcp/9'],
      ['/ip4/127.0.0.1/tcp/4100', '/ip4/10.0.0.2/tcp/4100', '/ip6/::1/udp/4200/quic-v1', '/ip4/127.0.0.1/tcp/4100/ws'].map(a => multiaddr(a))
    )
    expect(ports).toEqual({ '/ip4/0.0.0.0/tcp/0': 4100, '/ip6/::/udp/0/quic-v1': 4200, '/ip4/127.0.0.1/tcp/0': 4100 })
    expect(isAnyPort('/ip4/0.0.0.0/tcp/0')).toBe(true)
    expect(isAnyPort('/ip4/0.0.0.0/tcp/0/ws')).toBe(false)
    expect(isAnyPort('/ip4/0.0.0.0/tcp/1')).toBe(false)
    expect(isAnyPort('not an address')).toBe(false)
    expect(withPort('/ip6/::/udp/0/quic-v1', 4200)).toBe('/ip6/::/udp/4200/quic-v1')
  })

  it('keeps the file readable JSON', async () => {
    const book = new ListenPortBook(join(dir, 'json', 'p.json'))
    await book.put('x', { '/ip4/0.0.0.0/tcp/0': 1 })
    expect(JSON.parse(await readFile(book.path, 'utf8'))).toMatchObject({ version: 1, peers: { x: { ports: { '/ip4/0.0.0.0/tcp/0': 1 } } } })
  })
})
