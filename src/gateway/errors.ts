/** Errors of the gateway and of a share's registration with one (neutral text; the CLI maps names to exit codes). */

/** A gateway's options are wrong (domain, listen address). */
export class GatewayConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'GatewayConfigError'
  }
}

/** A certificate or key file cannot be read or used. */
export class TlsConfigError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'TlsConfigError'
  }
}

/** The short name asked for is held by another share on that gateway. */
export class GatewayNameTakenError extends Error {
  /** The name. */
  readonly gatewayName: string
  constructor (name: string, message = `the name '${name}' is taken on this gateway by another share`) {
    super(message)
    this.name = 'GatewayNameTakenError'
    this.gatewayName = name
  }
}

/** The short name asked for is not a valid or claimable name. */
export class InvalidGatewayNameError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'InvalidGatewayNameError'
  }
}

/** The gateway refused the registration (not on its allow-list, or a bad request). */
export class GatewayRefusedError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'GatewayRefusedError'
  }
}
