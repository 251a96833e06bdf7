import { createWriteStream } from 'node:fs'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import * as jetStream from '../../src/publisher/jetstream-publisher.js'
import * as stan from '../../src/publisher/stan-publisher.js'
import type { PublishTally } from '../../src/publisher/publish-loop.js'
import { startBrokerProcess, type BrokerProcess } from '../../test/support/broker-process.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import { pendingOnDurable } from './durable.js'
import { healthy, natsNodes } from '../../test/support/nats-server.js'
import { restartablePort } from '../../test/support/ports.js'

/** The service's settings that the checks need to know too. */
export interface ServiceSettings {
  channel: string
  clientId: string
  durable: string
  queueGroup: string
  ackWaitMs: number
  maxMessageBytes: number
}

export type TransportName = 'stan' | 'jetstream'

/** What the durable position holds that the service never acked, or why it could not be read. */
export type PendingProbe = { pending: number; sequences: number[] } | { error: string }

/**
 * The broker of a scenario, whichever transport it is: the scenarios and the accounting are written once against
 * this, and run unchanged on NATS Streaming and on JetStream (one node, or a 3-node cluster).
 */
export interface ScenarioBroker {
  readonly transport: TransportName
  /** The address a service is given (the first node's on a cluster), and the variable that gives it. */
  readonly url: string
  readonly urlVariable: 'STAN_URL' | 'NATS_URL'
  /** NATS Streaming's monitoring address (http://…; /streaming/channelsz), where the broker has one. */
  readonly monitorUrl?: string | undefined
  /** What the report says was broken by kill(). */
  readonly crashName: string
  /** Starts what is not running (all of it at first, what kill() or stop() took down later). */
  start(): Promise<void>
  /** The crash: SIGKILL of the broker; on a cluster, of the node leading the stream. */
  kill(): Promise<void>
  stop(): Promise<void>
  /** The service's environment for this broker. */
  serviceEnv(settings: ServiceSettings): Record<string, string>
  /** Publishes and waits for every ack; the tally says what the broker took. */
  publish(payloads: readonly Buffer[], settings: ServiceSettings, rate?: number): Promise<PublishTally>
  /** Run while the service is stopped: messages on its durable it never acked. */
  pending(settings: ServiceSettings): Promise<PendingProbe>
}

const IN_FLIGHT = 256

export interface BrokerSetup {
  dir: string
  logPath: string
  cleanup: Cleanup
}

/**
 * The project's NATS Streaming server, its own process with a file store, on a fixed port: SIGKILLed and started
 * again where clients expect it, it recovers channels and durables from the store.
 */
export async function stanBroker(setup: BrokerSetup): Promise<ScenarioBroker> {
  const [port, monitorPort] = [await restartablePort(), await restartablePort()]
  const url = `nats://127.0.0.1:${port}`
  const clusterId = 'test-cluster'
  const args = ['--port', String(port), '--http_port', String(monitorPort), '--store', 'file', '--dir', join(setup.dir, 'broker')]
  let running: BrokerProcess | undefined
  const stop = async (signal: NodeJS.Signals) => {
    await running?.kill(signal)
    running = undefined
  }
  setup.cleanup.add('broker', () => stop('SIGTERM'))
  return {
    transport: 'stan',
    url,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    urlVariable: 'STAN_URL',
    crashName: 'SIGKILL broker',
    async start() {
      running = await startBrokerProcess(args, clusterId, { output: { logPath: setup.logPath }, listenTimeoutMs: 20_000, stopGraceMs: 5_000 })
    },
    // The crash: no chance to write anything more to its store.
    kill: () => stop('SIGKILL'),
    stop: () => stop('SIGTERM'),
    serviceEnv: (settings) => ({
      BROKER: 'stan',
      STAN_URL: url,
      STAN_CLUSTER_ID: clusterId,
      STAN_CLIENT_ID: settings.clientId,
      STAN_CHANNEL: settings.channel,
      STAN_DURABLE: settings.durable,
      STAN_QUEUE_GROUP: settings.queueGroup,
      STAN_ACK_WAIT_SECONDS: String(settings.ackWaitMs / 1000),
    }),
    async publish(payloads, settings, rate) {
      const connection = await stan.connect({ servers: [url], clusterId, clientId: `reliability-publisher-${Date.now()}` })
      if (!connection.ok) throw new Error(`publisher could not connect: ${connection.error}`)
      try {
        return await stan.publishAll(connection.client, payloads, { channel: settings.channel, inFlight: IN_FLIGHT, rate })
      } finally {
        await stan.close(connection)
      }
    },
    pending: (settings) =>
      pendingOnDurable({
        url,
        clusterId,
        clientId: settings.clientId,
        channel: settings.channel,
        durableName: settings.durable,
        queueGroup: settings.queueGroup,
        ackWaitMs: settings.ackWaitMs,
      }),
  }
}

const STREAM = 'ORDERS'

/**
 * The real nats-server with JetStream: one node, or `nodes` clustered on loopback with an R3 stream. Each node keeps
 * its ports and its store across kills, so a restarted node rejoins where the others expect it.
 */
export async function jetStreamBroker(setup: BrokerSetup, nodes: 1 | 3): Promise<ScenarioBroker> {
  const log = createWriteStream(setup.logPath, { flags: 'a' })
  setup.cleanup.add('nats-server log', () => new Promise<void>((resolve) => log.end(resolve)))
  const cluster = await natsNodes(nodes, { dir: join(setup.dir, 'nats'), onLog: (name, line) => log.write(`${name} ${line}\n`) })
  const servers = cluster.map((each) => each.url)
  const stop = async () => {
    for (const each of cluster) await each.stop()
  }
  setup.cleanup.add('nats-server', stop)

  /** The node leading the stream (the only one on a single node), asked of the cluster. */
  async function streamLeader(): Promise<string> {
    if (nodes === 1) return cluster[0]!.name
    const nc = await connect({ servers, timeout: 5_000 })
    try {
      const leader = (await (await jetstreamManager(nc, { timeout: 5_000 })).streams.info(STREAM)).cluster?.leader
      if (leader === undefined) throw new Error(`stream ${STREAM} has no leader`)
      return leader
    } finally {
      await nc.close()
    }
  }

  return {
    transport: 'jetstream',
    url: servers[0]!,
    urlVariable: 'NATS_URL',
    crashName: nodes === 1 ? 'SIGKILL nats-server' : 'SIGKILL of the stream leader (1 of 3 nodes)',
    async start() {
      await Promise.all(
        cluster
          .filter((each) => !each.isRunning())
          .map(async (each) => {
            await each.start()
            // Back means JetStream current with the cluster too: a node still catching up answers "not enabled".
            await healthy(each.monitorUrl)
          }),
      )
    },
    async kill() {
      const leader = await streamLeader()
      await cluster.find((each) => each.name === leader)?.kill()
    },
    stop,
    serviceEnv: (settings) => ({
      BROKER: 'jetstream',
      NATS_URL: servers.join(','),
      JETSTREAM_STREAM: STREAM,
      JETSTREAM_SUBJECT: settings.channel,
      JETSTREAM_CONSUMER: settings.durable,
      JETSTREAM_REPLICAS: String(nodes),
      JETSTREAM_ACK_WAIT_SECONDS: String(settings.ackWaitMs / 1000),
    }),
    async publish(payloads, settings, rate) {
      const connected = await jetStream.connect({ servers, name: `reliability-publisher-${Date.now()}` })
      if (!connected.ok) throw new Error(`publisher could not connect: ${connected.error}`)
      try {
        // Without message ids: the ledger expects every message published once to be accounted for once, identical
        // hostile payloads included, as on NATS Streaming. The server's deduplication by id is tested on its own
        // (test/ingest/jetstream-publish.test.ts).
        return await jetStream.publishAll(connected.js, connected.nc, payloads, { subject: settings.channel, inFlight: IN_FLIGHT, rate, messageIds: false })
      } finally {
        await jetStream.close(connected.nc)
      }
    },
    /** The consumer's own count: delivered and never acked, plus never delivered. */
    async pending(settings) {
      try {
        const nc = await connect({ servers, timeout: 5_000 })
        try {
          const info = await (await jetstreamManager(nc, { timeout: 5_000 })).consumers.info(STREAM, settings.durable)
          const pending = info.num_pending + info.num_ack_pending
          return { pending, sequences: pending > 0 ? [info.ack_floor.stream_seq + 1] : [] }
        } finally {
          await nc.close()
        }
      } catch (error) {
        return { error: (error as Error).message }
      }
    },
  }
}
