import pino from 'pino'
import stan from 'node-nats-streaming'
import { loadConfig, type Config } from '../../src/config.js'
import { startService, type RunningService } from '../../src/service.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { publishJetStream } from './jetstream.js'
import { startNatsNode, type TestNats } from './nats-server.js'
import { startTestDatabase, type TestDatabase } from './postgres.js'

export interface TestService {
  /** The page's URL (http://127.0.0.1:<port>/). */
  url: string
  config: Config
  db: TestDatabase
  /** The embedded NATS Streaming server (BROKER=stan, the default). */
  broker: StanServer | undefined
  /** A real nats-server (BROKER=jetstream). */
  nats: TestNats | undefined
  service: RunningService
  /** Publishes payloads to the service's channel (or JetStream subject) through the broker's client; resolves when all are acked. */
  publish(payloads: readonly (string | Uint8Array)[]): Promise<void>
  /** Restarts the service alone (same database, same broker, same client id): the restart path. */
  restart(): Promise<void>
  stop(): Promise<void>
}

/**
 * The whole service with real parts: embedded PostgreSQL, the broker on a free port (the embedded NATS Streaming
 * server, or with BROKER=jetstream a real nats-server), HTTP on a free port. `env` overrides configuration
 * (names as in the README), for example ADMIN_TOKEN or BATCH_MAX_SIZE.
 */
export async function startTestService(
  env: Record<string, string> = {},
  /** The URLs the service is given, from the servers' own: say, through a freezing proxy. */
  route: { database?: (url: string) => string } = {},
): Promise<TestService> {
  const db = await startTestDatabase()
  const config = loadConfig({ HTTP_PORT: '0', STAN_ACK_WAIT_SECONDS: '2', JETSTREAM_ACK_WAIT_SECONDS: '2', BATCH_MAX_WAIT_MS: '5', ...env })
  const jetStream = config.BROKER === 'jetstream'
  const nats = jetStream ? await startNatsNode() : undefined
  // With its monitoring endpoints, as an operator runs the real server: tests read what the durable still holds.
  const broker = jetStream ? undefined : await startStanServer({ port: 0, monitorPort: 0 })
  const endpoints = { databaseUrl: route.database?.(db.url) ?? db.url, stanServers: broker === undefined ? [] : [broker.url], stanClusterId: broker?.clusterId ?? '', natsServers: nats?.urls ?? [] }
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })
  let service = await startService(config, endpoints, log)
  const publisher = broker === undefined ? undefined : await connect(broker.url, broker.clusterId)

  const handle: TestService = {
    get url() {
      return service.url
    },
    config,
    db,
    broker,
    nats,
    get service() {
      return service
    },
    publish: async (payloads) => {
      if (publisher !== undefined) await publishAll(publisher, config.STAN_CHANNEL, payloads)
      else await publishJetStream(nats!.urls, config.JETSTREAM_SUBJECT, payloads)
    },
    async restart() {
      await service.stop()
      service = await startService(config, endpoints, log)
    },
    async stop() {
      if (publisher !== undefined) {
        await new Promise<void>((resolve) => {
          publisher.once('close', () => resolve())
          publisher.close()
        })
      }
      await service.stop()
      await broker?.close()
      await nats?.close()
      await db.stop()
    },
  }
  return handle
}

function connect(url: string, clusterId: string): Promise<stan.Stan> {
  return new Promise((resolve, reject) => {
    const connection = stan.connect(clusterId, `test-publisher-${process.pid}-${Date.now()}`, { url })
    connection.once('connect', () => resolve(connection))
    connection.once('error', reject)
  })
}

function publishAll(connection: stan.Stan, channel: string, payloads: readonly (string | Uint8Array)[]): Promise<void> {
  return Promise.all(
    payloads.map(
      (payload) =>
        new Promise<void>((resolve, reject) => {
          connection.publish(channel, payload as string | Uint8Array, (error) => (error ? reject(error) : resolve()))
        }),
    ),
  ).then(() => undefined)
}
