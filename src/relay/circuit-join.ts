import type { Stream } from '@libp2p/interface'

type Listener = EventListenerOrEventListenerObject | null
type AddListener = (type: string, listener: Listener, options?: boolean | AddEventListenerOptions) => void

/**
 * Keeps a relay from holding every byte a circuit's dialing peer sends.
 *
 * circuit-relay-v2 (4.2.13, the latest release) joins a relayed connection's
 * two streams with `pipe(src, dst, src)` from @libp2p/utils. That pipe turns
 * each message stream it is given into a duplex: `src` twice. Of the first
 * duplex it reads the source (the dialer's bytes, on to `dst`), of the second
 * it uses only the sink (`dst`'s bytes, back to the dialer). But the second
 * duplex's source, a pushable fed by a 'message' listener of its own, is
 * never read: it keeps a copy of everything the dialer sends for as long as
 * the circuit lives. Under the soak's 1,000 steady circuits the relay grew
 * 28.5 MiB/min (bench/soak.ts; a heap snapshot showed the pushables' buffers
 * held by the HOP streams' listeners).
 *
 * Call on a HOP stream once the relay has answered OK to a CONNECT (the pipe
 * is set up right after): the 'message' listener of the stream's second
 * duplex conversion is removed as soon as that conversion is complete. A
 * conversion is recognised by its last step, a once-only 'remoteCloseWrite'
 * listener (the protocol's own byte stream adds its listener without
 * `once`). A library version that converts the stream once leaves nothing to
 * remove; the stream's own addEventListener is back after the second
 * conversion or when the stream closes.
 */
export function dropUnreadCopy (stream: Stream): void {
  const target = stream as unknown as { addEventListener: AddListener, removeEventListener: AddListener }
  const own = Object.getOwnPropertyDescriptor(target, 'addEventListener')
  const original = target.addEventListener
  let lastMessage: Listener | undefined
  let conversions = 0
  const restore = (): void => {
    if (own != null) Object.defineProperty(target, 'addEventListener', own)
    else Reflect.deleteProperty(target, 'addEventListener')
  }
  target.addEventListener = (type, listener, options) => {
    original.call(target, type, listener, options)
    if (type === 'message') {
      lastMessage = listener
    } else if (type === 'remoteCloseWrite' && typeof options === 'object' && options.once === true && ++conversions === 2) {
      restore()
      if (lastMessage != null) target.removeEventListener('message', lastMessage)
    }
  }
  original.call(target, 'close', restore, { once: true })
}
