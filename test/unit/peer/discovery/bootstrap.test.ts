import { describe, it, expect } from 'vitest'
import { parseBootstrapFile, loadBootstrapFile, parsePeerMultiaddr, DEFAULT_BOOTSTRAP_FILE } from '../../../../src/peer/index.ts'

const ID = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'

describe('bootstrap-nodes.json', () => {
  it('the shipped file is valid', async () => {
    const list = await loadBootstrapFile(DEFAULT_BOOTSTRAP_FILE)
    expect(list.dropped).toEqual([])
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

