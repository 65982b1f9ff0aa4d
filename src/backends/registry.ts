import type { Backend, BackendAvailability } from './backend.ts'

/** Raised when a backend name is registered twice or not known. */
export class BackendRegistryError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'BackendRegistryError'
  }
}

/** The set of backends a node can choose from; apps may register their own. */
export class BackendRegistry {
  private readonly backends = new Map<string, Backend>()

  constructor (initial: Backend[] = []) {
    for (const b of initial) this.register(b)
  }

  /** Add a backend. Throws BackendRegistryError if its name is taken. */
  register (backend: Backend): void {
    if (this.backends.has(backend.name)) throw new BackendRegistryError(`backend '${backend.name}' is already registered`)
    this.backends.set(backend.name, backend)
  }

  /** The backend of that name. Throws BackendRegistryError if there is none. */
  get (name: string): Backend {
    const b = this.backends.get(name)
    if (b == null) throw new BackendRegistryError(`unknown backend '${name}' (known: ${[...this.backends.keys()].join(', ')})`)
    return b
  }

  /** Every registered backend, in registration order. */
  list (): Backend[] {
    return [...this.backends.values()]
  }

  /** Every backend with its current availability. */
  async status (options: { signal?: AbortSignal } = {}): Promise<Array<{
    /** The backend. */
    backend: Backend
    /** Whether it can be used now, and why not. */
    availability: BackendAvailability
  }>> {
    return await Promise.all(this.list().map(async backend => ({ backend, availability: await backend.available(options) })))
  }
}
