/** A hole punch ended without a working pair of sockets (its budget or time ran out). */
export class HolePunchError extends Error {
  /** Datagrams this side sent in the attempt. */
  readonly packetsSent: number
  constructor (message: string, packetsSent: number) {
    super(message)
    this.name = 'HolePunchError'
    this.packetsSent = packetsSent
  }
}
