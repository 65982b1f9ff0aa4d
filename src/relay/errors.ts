/** A relay limit is out of its range. */
export class RelayLimitError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RelayLimitError'
  }
}
