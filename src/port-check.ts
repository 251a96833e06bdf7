import { createServer } from 'node:net'
import { isAddressInUse, PortInUseError, type PortSetting } from './errors.js'

/** A port the process is about to listen on, and the setting that names it. */
export interface WantedPort {
  setting: PortSetting
  host: string
  port: number
}

/**
 * The wanted ports another program already listens on, found by listening on each as its server will and closing
 * at once: checked before anything starts, so a taken port costs no embedded PostgreSQL started and stopped again.
 * Port 0 (any free port) is never taken. A server still races another program between this check and its listen:
 * each start translates EADDRINUSE into the same error.
 */
export async function takenPorts(wanted: readonly WantedPort[]): Promise<PortInUseError[]> {
  const checked = await Promise.all(
    wanted.map(async ({ setting, host, port }) => (port !== 0 && (await isTaken(host, port)) ? new PortInUseError(setting, host, port) : undefined)),
  )
  return checked.filter((error) => error !== undefined)
}

/** Other failures (a host not on this machine, a privileged port) are left to the server's own listen to report. */
function isTaken(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', (error) => resolve(isAddressInUse(error)))
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(false)))
  })
}
