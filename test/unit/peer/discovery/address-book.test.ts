import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it, expect } from 'vitest'
import { multiaddr } from '@multiformats/multiaddr'
import { AddressBook } from '../../../../src/peer/index.ts'

const ID = '12D3KooWEeEj3VsKj8ejyrQNTtNwF1xKHet1c8E5ViKCRmeR4Mz4'

describe('address book', () => {
  it('remembers, updates and forgets the least recently seen peers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'beam-ab-'))
    try {
      const book = new AddressBook(join(dir, 'peers.json'))
      expect(await book.get(ID)).toEqual([])
      await book.put(ID, [multiaddr('/ip4/127.0.0.1/tcp/1')])
      await book.put(ID, [multiaddr('/ip4/127.0.0.1/tcp/2')])
      expect((await book.get(ID)).map(String)).toEqual(['/ip4/127.0.0.1/tcp/2'])
      // a corrupt file is an empty cache, not an error
      const { writeFile } = await import('node:fs/promises')
      await writeFile(book.path, '{oops')
      expect(await book.get(ID)).toEqual([])
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
