import { writeFileSync, existsSync, rmSync } from 'node:fs'
import { startTorNetwork } from '../test/helpers/tor-network.ts'
rmSync('/tmp/tor-net.stop', { force: true })
const tn = await startTorNetwork({ clients: ['none', 'none', 'none'] })
writeFileSync('/tmp/tor-net.json', JSON.stringify(tn))
console.log('ready', tn.bootstrapMs)
const end = Date.now() + 25 * 60_000
while (!existsSync('/tmp/tor-net.stop') && Date.now() < end) await new Promise(r => setTimeout(r, 500))
await tn.stop()
console.log('stopped')
