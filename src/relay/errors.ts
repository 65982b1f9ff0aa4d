/** A relay limit is out of its range. */
export class RelayLimitError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'RelayLimitError'
  }
}

/** A relay reservation reached its expiry (the reason of its signal's abort). */
export class ReservationExpiredError extends Error {
  constructor (message = 'the relay reservation expired') {
    super(message)
    this.name = 'ReservationExpiredError'
  }
}
