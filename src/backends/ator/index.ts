/**
 * The ATOR (Anyone Protocol) backend. Its daemon `anon` is a fork of Tor
 * 0.4.9: the same control port (ADD_ONION, DEL_ONION, HS_DESC events) and
 * SOCKS5 port, onion services whose names end in `.anon` instead of
 * `.onion`. So this backend is the Tor backend (src/backends/tor) with a
 * different profile; see docs/backends.md#ator.
 *
 * Addresses: `/anon3/<56 base32 chars>:<port>`, a protocol registered here
 * (private-use code, text value), and `/anon3-listen/<port>` for a share's
 * listen request. Not `/onion3/`: an ATOR service is not reachable over Tor
 * (nor the reverse), and with both backends on one node the address must say
 * which network dials it.
 */
import type { Backend } from '../backend.ts'
import { onionBackend, registerTextProtocol, TorCommandError, validateListenPort, validateOnionValue } from '../tor/index.ts'
import type { OnionNetworkProfile, TorBackendOptions, TorControl } from '../tor/index.ts'

/** Multiaddr protocol of an ATOR onion service: `/anon3/<id>:<port>`. */
export const ANON_PROTOCOL = 'anon3'
/** Listen protocol of a share over ATOR: `/anon3-listen/<port>`. */
export const ANON_LISTEN_PROTOCOL = 'anon3-listen'
const ANON_CODE = 0x300a70
const ANON_LISTEN_CODE = 0x300a71

registerTextProtocol(ANON_PROTOCOL, ANON_CODE, validateOnionValue(ANON_PROTOCOL))
registerTextProtocol(ANON_LISTEN_PROTOCOL, ANON_LISTEN_CODE, validateListenPort(ANON_LISTEN_PROTOCOL))


/** The anon version beam is tested with, and the npm package that ships it. */
export const ANON_VERSION = '0.4.9.11'
export const ANON_PACKAGE = '@anyone-protocol/anyone-client@1.1.3'

/** Where anon is looked for when no path is given (the CLI adds PATH and scripts/install-ator.sh's folder). */
export const ANON_CANDIDATES = ['/usr/local/bin/anon', '/usr/bin/anon', '/usr/sbin/anon', '/opt/homebrew/bin/anon']

/** What a user who has no anon binary is told (the CLI adds its flag for a binary elsewhere). */
export const ANON_INSTALL_HINT = 'run scripts/install-ator.sh (it extracts anon from the npm package @anyone-protocol/anyone-client@1.1.3 into ~/.cache/beam/ator-1.1.3, where beam looks), or put anon on PATH, or name its path'

/**
 * Options of {@link atorBackend}: those of the Tor backend (anon's control
 * and SOCKS ports, password, `launch`, `keyFile`, …), with anon's binaries in
 * place of tor's.
 */
export interface AtorBackendOptions extends Omit<TorBackendOptions, 'torBinaries'> {
  /** Where to look for the anon binary, first match wins. @default ANON_CANDIDATES */
  anonBinaries?: string[]
}

/** tor answers 552 to an option it does not know; anon knows AgreeToTerms. */
async function isAnon (control: TorControl): Promise<string | undefined> {
  try {
    await control.command('GETCONF AgreeToTerms')
    return undefined
  } catch (err) {
    if (err instanceof TorCommandError) return 'this daemon does not know AgreeToTerms: it is tor, not ATOR\'s anon (point the ATOR backend at anon\'s control port)'
    throw err
  }
}

/** The ATOR network as the Tor transport sees it. */
export const ATOR_PROFILE: OnionNetworkProfile = { name: 'ator', label: 'ATOR', addressProtocol: ANON_PROTOCOL, listenProtocol: ANON_LISTEN_PROTOCOL, hostSuffix: '.anon', checkDaemon: isAnon }

/** An ATOR backend object with its options; hand it to `createBeam({ backends })`. */
export function atorBackend (options: AtorBackendOptions = {}): Backend {
  const { anonBinaries, ...rest } = options
  return onionBackend({
    name: 'ator',
    description: 'ATOR (Anyone Protocol) onion services through anon, a Tor fork: control port and SOCKS5, .anon addresses',
    profile: ATOR_PROFILE,
    program: 'anon',
    binaries: anonBinaries ?? ANON_CANDIDATES,
    installHint: ANON_INSTALL_HINT,
    // anon refuses to start without it; --defaults-torrc makes it abort (free(): invalid size)
    requiredTorrc: ['AgreeToTerms 1'],
    defaultsTorrc: false
  }, rest)
}
