import { describe, it, expect } from 'vitest'
import { readFile } from 'node:fs/promises'
import { peerIdFromString } from '@libp2p/peer-id'
import { parseBootstrapFile, loadBootstrapFile, parsePeerMultiaddr, stunServersOf, DEFAULT_BOOTSTRAP_FILE } from '../../../../src/peer/index.ts'

const ID = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'

describe('bootstrap-nodes.json', () => {
  it('the shipped file is valid', async () => {
    const list = await loadBootstrapFile(DEFAULT_BOOTSTRAP_FILE)
    expect(list.dropped).toEqual([])
  })

  it('ships the public libp2p (Amino DHT) bootstrap peers, as kubo lists them, each a multiaddr with a valid peer id', async () => {
    // parsed only: nothing here resolves /dnsaddr names or dials anyone
    const raw = JSON.parse(await readFile(DEFAULT_BOOTSTRAP_FILE, 'utf8')) as { nodes: unknown[] }
    const list = await loadBootstrapFile(DEFAULT_BOOTSTRAP_FILE)
    expect(list.nodes).toHaveLength(raw.nodes.length)
    // kubo's list, by peer id (the host names are data of the shipped file, not of this test)
    expect(list.nodes.map(n => n.multiaddr.getComponents().findLast(c => c.name === 'p2p')?.value)).toEqual([
      'QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN',
      'QmQCU2EcMqAqQPR2i9bChDtGNJchTbq5TbXJJ16u19uLTa',
      'QmbLHAnMoJPWSCR5Zhtx6BHJX9KiKNN6tpvbUcqanj75Nb',
      'QmcZf59bWwK5XFi76CZX8cbJ4BhTzzA3gU1ZjYZcYW3dwt',
      '12D3KooWKnDdG3iXw9eTFijk3EWSunZcFi54Zka4wmtqtt6rPxc8',
      'QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ',
      'QmaCpDMGvV2BGHeYERUEnRQAwe3N8SzbUtfsmvsqQLuvuJ'
    ])
    // in their /dnsaddr and IP forms
    expect(list.nodes.map(n => n.multiaddr.getComponents()[0]?.name)).toEqual(['dnsaddr', 'dnsaddr', 'dnsaddr', 'dnsaddr', 'dnsaddr', 'ip4', 'ip4'])
    for (const n of list.nodes) {
      const id = n.multiaddr.getComponents().findLast(c => c.name === 'p2p')?.value
      expect(id, n.multiaddr.toString()).toBeDefined()
      expect(peerIdFromString(id ?? '').toString()).toBe(id)
      // DHT entry points only: none is a beam relay, so none is a STUN server either
      expect(n.roles).toEqual(['bootstrap'])
      expect(n.network).toBe('amino')
    }
    expect(stunServersOf(list.nodes)).toEqual([])
  })

  it('reads the network and note of an entry, and drops a bad network name', () => {
    const list = parseBootstrapFile(JSON.stringify({
      version: 1,
      nodes: [
        { multiaddr: `/ip4/127.0.0.1/tcp/4001/p2p/${ID}`, roles: ['bootstrap', 'relay'], network: 'beam', note: 'ours', stunPort: 3478 },
        { multiaddr: `/dnsaddr/bootstrap.example/p2p/${ID}`, roles: ['bootstrap'], network: 'amino' },
        { multiaddr: `/ip4/127.0.0.1/tcp/4002/p2p/${ID}`, network: 'Not A Name' }
      ]
    }))
    expect(list.nodes.map(n => [n.network, n.note, n.roles])).toEqual([['beam', 'ours', ['bootstrap', 'relay']], ['amino', undefined, ['bootstrap']]])
    expect(list.dropped[0]?.reason).toMatch(/"network"/)
    expect(stunServersOf(list.nodes)).toEqual(['stun:127.0.0.1:3478'])
  })

  it('keeps good entries, drops bad ones with reasons', () => {
    const list = parseBootstrapFile(JSON.stringify({
      version: 1,
      nodes: [
        { multiaddr: `/ip4/127.0.0.1/tcp/4001/p2p/${ID}`, roles: ['relay'] },
        { multiaddr: `/dns4/relay.example/tcp/443/wss/p2p/${ID}` },
        { multiaddr: '/ip4/127.0.0.1/tcp/4001' },
        { multiaddr: 'garbage' },
        { roles: ['relay'] },
        42
      ]
    }))
    expect(list.nodes.map(n => n.multiaddr.toString())).toEqual([`/ip4/127.0.0.1/tcp/4001/p2p/${ID}`, `/dns4/relay.example/tcp/443/wss/p2p/${ID}`])
    expect(list.nodes[0]?.roles).toEqual(['relay'])
    expect(list.nodes[1]?.roles).toEqual(['bootstrap'])
    expect(list.dropped).toHaveLength(4)
    expect(list.dropped[0]?.reason).toMatch(/no \/p2p/)
  })

  it('rejects a file that is not JSON, of another version, or without nodes', () => {
    expect(() => parseBootstrapFile('{')).toThrow(expect.objectContaining({ name: 'BootstrapConfigError' }))
    expect(() => parseBootstrapFile('{"version":2,"nodes":[]}')).toThrow(/version 2/)
    expect(() => parseBootstrapFile('{"version":1}')).toThrow(/nodes/)
    expect(() => parseBootstrapFile('[]')).toThrow(/object/)
  })

  it('accepts an empty list (no public node yet) but not a list whose every entry is bad', () => {
    expect(parseBootstrapFile('{"version":1,"nodes":[]}').nodes).toEqual([])
    expect(() => parseBootstrapFile('{"version":1,"nodes":[{"multiaddr":"garbage"},42]}')).toThrow(/every entry was dropped/)
  })

  it('parsePeerMultiaddr names the problem', () => {
    expect(() => parsePeerMultiaddr('/ip4/1.2.3.4/tcp/1')).toThrow(expect.objectContaining({ name: 'InvalidMultiaddrError' }))
    expect(() => parsePeerMultiaddr('nope')).toThrow(/not a valid multiaddr/)
  })
})

