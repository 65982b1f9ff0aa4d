/**
 * Patch of node-datachannel's RTCPeerConnection (0.33.4) as @libp2p/webrtc
 * 6.0.33 uses it: a data channel still connecting when its peer connection
 * fails or closes gets an `error` event. Retire it when @libp2p/webrtc's
 * dialer stops waiting for its init channel on a failed connection.
 *
 * Why: the dialer waits for its `init` channel's `open` with only the dial's
 * signal to stop it; a peer connection that fails first (a failed DTLS
 * handshake) never opens nor closes the channel, and its own
 * `connectionstatechange` to "failed" is swallowed while ICE candidates are
 * read. The dial then hangs until its timeout: in the NAT lab, 2 of 40 WebRTC
 * upgrades over a punched UDP pair failed DTLS ("certificate verify failed":
 * libdatachannel 0.24 can connect ICE and start DTLS before the answer's
 * fingerprint is stored, a race the already-open punched pair makes
 * reachable) and waited 12 s instead of failing in milliseconds.
 *
 * An `error` listener added after the failure (the dialer only starts
 * waiting for `open` once it has read the candidates, by then the failure
 * may have passed) is called with it on the next turn.
 *
 * The event is shaped as the one node-datachannel itself sends for a channel
 * error (an `error` event whose `error` is an RTCError, errorDetail
 * "data-channel-failure"), so listeners see nothing new. Process-wide once installed.
 */

const INSTALLED = Symbol.for('beam.channelFailFast')

interface ChannelLike extends EventTarget {
  readyState: string
}

interface PatchablePrototype {
  createDataChannel: (...args: unknown[]) => ChannelLike
  [INSTALLED]?: true
}

interface PeerConnectionLike extends EventTarget {
  connectionState: string
}

/** The message of the error a channel gets when its peer connection ended before it opened. */
export function channelFailedMessage (state: string): string {
  return `the WebRTC connection became "${state}" before its data channel opened (ICE or DTLS failed)`
}

/**
 * Makes every data channel of node-datachannel's RTCPeerConnection get an
 * `error` event when its connection fails or closes while it is still
 * connecting. Idempotent; imports the polyfill (native add-on) on first call.
 */
export async function installChannelFailFast (): Promise<void> {
  const { RTCPeerConnection, RTCError } = await import('node-datachannel/polyfill')
  const proto = RTCPeerConnection.prototype as unknown as PatchablePrototype
  if (proto[INSTALLED] === true) return
  const original = proto.createDataChannel
  proto.createDataChannel = function (this: PeerConnectionLike, ...args: unknown[]): ChannelLike {
    const channel = original.apply(this, args)
    let failure: Event | undefined
    const onState = (): void => {
      const state = this.connectionState
      if (state !== 'failed' && state !== 'closed') return
      this.removeEventListener('connectionstatechange', onState)
      if (channel.readyState !== 'connecting') return
      const error = new RTCError({ errorDetail: 'data-channel-failure' }, channelFailedMessage(state))
      // shaped as node-datachannel's own RTCErrorEvent (not exported by its polyfill): an `error` property
      failure = Object.assign(new Event('error'), { error })
      channel.dispatchEvent(failure)
    }
    this.addEventListener('connectionstatechange', onState)
    // the dialer may start waiting only after the failure (it reads ICE candidates first): an
    // `error` listener added then hears of it too, on the next turn, as if it had been listening
    const add = channel.addEventListener.bind(channel)
    channel.addEventListener = (type: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean): void => {
      add(type, listener, options)
      const event = failure
      if (type !== 'error' || event == null || listener == null) return
      setImmediate(() => {
        if (typeof listener === 'function') listener.call(channel, event)
        else listener.handleEvent(event)
      })
    }
    return channel
  }
  proto[INSTALLED] = true
}
