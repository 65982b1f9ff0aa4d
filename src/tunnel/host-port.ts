/**
 * `host:port` as people and URLs write it: an IPv6 address in brackets
 * (`[::1]:8080`), so that its colons are not read as the port's.
 */
export function hostPort (host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`
}
