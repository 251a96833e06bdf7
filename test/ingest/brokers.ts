import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import stan from 'node-nats-streaming'
import { expect, vi } from 'vitest'
import { CONNECT_TIMEOUT_MS, PINGS, PULL_EXPIRES_MS, type JetStreamOptions } from '../../src/ingest/jetstream-subscription.js'
import { openStanSubscription, type StanSubscriptionOptions } from '../../src/ingest/stan-subscription.js'
import { startStanServer, type StanServer } from '../../src/stan-server/index.js'
import { consumerState, jetStreamOptions, openJetStream, publishJetStream } from '../support/jetstream.js'
import { healthy, startNatsCluster, startNatsNode, type TestNats } from '../support/nats-server.js'
import { restartablePort } from '../support/ports.js'
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { stanOptions } from './support.js'
import type { Broker, Cluster, Features, Settings, SingleServer } from './transport-contract.js'

/** The contract's brokers for each transport: how to start its servers, publish, open the subscription, take a server away. */

/** src/ingest/stan-subscription.ts's pings notice a frozen connection within 8 s (the streaming level; NATS's within 6 s). */
const STAN_NOTICED_WITHIN_MS = 8_000

export const stanFeatures: Features = {
  publishDuringFailOver: true,
  frozen: {
    // Long: the durable resumed on the fresh connection gets what the frozen one held, without waiting for it.
    ackWaitMs: 30_000,
    replacedWithinMs: STAN_NOTICED_WITHIN_MS + 1_000,
    // Noticed by the pings, then a reconnect and the broker's check that the old client is gone (its heartbeat).
    resumedWithinMs: STAN_NOTICED_WITHIN_MS + 4_000,
    heldWithinMs: STAN_NOTICED_WITHIN_MS + 4_000,
    failedOverWithinMs: STAN_NOTICED_WITHIN_MS + 4_000,
    failedOverHeldWithinMs: STAN_NOTICED_WITHIN_MS + 6_000,
    liveAgainLog: 'subscribed',
  },
}

/** src/ingest/jetstream-subscription.ts's pings notice a frozen connection at the third tick at most. */
const JETSTREAM_NOTICED_WITHIN_MS = PINGS.pingInterval * (PINGS.maxPingOut + 1)
const JETSTREAM_ACK_WAIT_MS = 8_000
/** The client tries the frozen server again first, and gives up on it after the connect timeout. */
const JETSTREAM_FAILED_OVER_WITHIN_MS = JETSTREAM_NOTICED_WITHIN_MS + CONNECT_TIMEOUT_MS + 1_000

export const jetStreamFeatures: Features = {
  // Publishes fail while the stream elects a new leader.
  publishDuringFailOver: false,
  frozen: {
    ackWaitMs: JETSTREAM_ACK_WAIT_MS,
    replacedWithinMs: JETSTREAM_NOTICED_WITHIN_MS + 1_000,
    // The same server again after 0.5 s (and some jitter), then a consumer lookup and the pull on the fresh connection.
    resumedWithinMs: JETSTREAM_NOTICED_WITHIN_MS + 2_000,
    // What the frozen connection's last pull took comes again after the ack wait, from when it was handed over
    // (within one pull's life of the freeze); nothing published later goes to it.
    heldWithinMs: PULL_EXPIRES_MS + JETSTREAM_ACK_WAIT_MS + 2_000,
    failedOverWithinMs: JETSTREAM_FAILED_OVER_WITHIN_MS,
    // Handed to the frozen pull, it comes again after the ack wait, or once a connection is there to take it.
    failedOverHeldWithinMs: Math.max(JETSTREAM_FAILED_OVER_WITHIN_MS, PULL_EXPIRES_MS + JETSTREAM_ACK_WAIT_MS) + 2_000,
    liveAgainLog: 'JetStream connected again',
  },
}

/** The embedded NATS Streaming broker (file store, so a restart keeps the channels and durables) on a port it comes back on. */
export async function stanServer(): Promise<SingleServer & { stan: () => StanServer; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'stan-test-'))
  const options = { port: await restartablePort(), store: 'file', dir, monitorPort: 0 } as const
  let server = await startStanServer(options)
  return {
    ...stanBroker(() => server, () => [server.url]),
    stan: () => server,
    async restart(during) {
      await server.close()
      await during()
      server = await startStanServer(options)
    },
    async close() {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Several servers of NATS Streaming: the embedded broker is not clustered, so two addresses of one broker (TCP
 * proxies) that can go away one at a time, as a dead node would.
 */
export async function stanServers(): Promise<Cluster & { stan: StanServer; close(): Promise<void> }> {
  const server = await startStanServer({ port: 0, monitorPort: 0 })
  const ports = [await restartablePort(), await restartablePort()]
  const proxies: TcpProxy[] = await Promise.all(ports.map((port) => startTcpProxy({ host: server.host, port: server.port }, port)))
  return {
    ...stanBroker(() => server, () => proxies.map((proxy) => proxy.url)),
    stan: server,
    async failServing() {
      const [first, second] = proxies
      expect([first!.connections(), second!.connections()]).toEqual([1, 0])
      await first!.close()
      return async () => {
        await vi.waitFor(() => expect(second!.connections()).toBe(1), { timeout: 10_000 })
        proxies[0] = await startTcpProxy({ host: server.host, port: server.port }, ports[0])
      }
    },
    async close() {
      for (const proxy of proxies) await proxy.close()
      await server.close()
    },
  }
}

function stanBroker(server: () => StanServer, urls: () => string[]): Broker {
  return {
    urls: urls(),
    async open(channel, settings, onMessage) {
      const options = stanOptions(server(), {
        servers: settings.servers ?? urls(),
        clientId: `${settings.member ?? 'service'}-${channel}`,
        channel,
        queueGroup: 'order-service',
        ...defined(settings),
      })
      return openStanSubscription(options, onMessage)
    },
    async publish(channel, payloads) {
      const connection = stan.connect(server().clusterId, `publisher-${process.pid}-${channel}-${Date.now()}`, { url: server().url })
      await new Promise<void>((resolve, reject) => {
        connection.once('connect', () => resolve())
        connection.once('error', reject)
      })
      await Promise.all(payloads.map((payload) => new Promise<void>((resolve, reject) => connection.publish(channel, payload, (error) => (error ? reject(error) : resolve())))))
      await new Promise<void>((resolve) => {
        connection.once('close', () => resolve())
        connection.close()
      })
      // One connection stores its messages in the order sent, and each case publishes on its own channel.
      const last = (await stanChannel(server(), channel))!.last_seq
      return payloads.map((_, i) => last - payloads.length + 1 + i)
    },
    deadLetterChannel: (channel) => channel,
    async state(channel) {
      const found = await stanChannel(server(), channel)
      const subscriptions = found?.subscriptions ?? []
      return {
        unacked: subscriptions.reduce((sum, sub) => sum + sub.pending_count, 0),
        undelivered: (found?.last_seq ?? 0) - Math.max(0, ...subscriptions.map((sub) => sub.last_sent)),
      }
    },
  }
}

/** The channel as the broker's monitoring endpoint shows it (as the real server's /streaming/channelsz), if it exists. */
async function stanChannel(server: StanServer, channel: string) {
  const response = await fetch(`${server.monitorUrl}/streaming/channelsz?channel=${encodeURIComponent(channel)}&subs=1`)
  if (response.status === 404) return undefined
  return (await response.json()) as { last_seq: number; subscriptions?: Array<{ last_sent: number; pending_count: number }> }
}

/** One real nats-server with JetStream. */
export async function jetStreamServer(): Promise<SingleServer & { nats: TestNats }> {
  const nats = await startNatsNode()
  return {
    ...jetStreamBroker(nats, 1),
    nats,
    async restart(during) {
      await nats.nodes[0]!.kill()
      await during()
      await nats.nodes[0]!.start()
    },
  }
}

/** A 3-node JetStream cluster; the case's stream has three replicas, and the server taken away is its leader. */
export async function jetStreamCluster(): Promise<Cluster & { nats: TestNats }> {
  const nats = await startNatsCluster(3)
  return {
    ...jetStreamBroker(nats, 3),
    nats,
    async failServing(channel) {
      const stream = `S_${channel}`
      const leader = await vi.waitUntil(() => streamLeader(nats, stream))
      const victim = nats.nodes.find((node) => node.name === leader)!
      await victim.kill()
      // A new leader among the two left, before anything more is published.
      await vi.waitUntil(async () => {
        const now = await streamLeader(nats, stream)
        return now !== undefined && now !== leader
      }, { timeout: 30_000, interval: 200 })
      return async () => {
        await victim.start()
        await healthy(victim.monitorUrl)
      }
    },
  }
}

function jetStreamBroker(nats: TestNats, replicas: number): Broker {
  return {
    urls: nats.urls,
    open: (channel, settings, onMessage) =>
      openJetStream(
        jetStreamOptions(settings.servers ?? nats.urls, channel, { replicas, name: `test-${channel}-${settings.member ?? 'service'}`, ...defined(settings) }),
        onMessage,
      ),
    publish: (channel, payloads) => publishJetStream(nats.urls, `orders.${channel}`, payloads),
    deadLetterChannel: (channel) => `S_${channel}`,
    async state(channel) {
      const state = await consumerState(nats.urls, `S_${channel}`, 'order-service')
      return { unacked: state.num_ack_pending, undelivered: state.num_pending }
    },
  }
}

/** The stream's leader as the cluster reports it, once it has one. */
export async function streamLeader(nats: TestNats, stream: string): Promise<string | undefined> {
  const nc = await connect({ servers: nats.urls, timeout: 2_000 })
  try {
    return (await (await jetstreamManager(nc, { timeout: 2_000 })).streams.info(stream)).cluster?.leader
  } catch {
    return undefined
  } finally {
    await nc.close()
  }
}

/** The settings a case gave, as subscription options of either transport. */
function defined({ ackWaitMs, maxInFlight, log }: Settings): Partial<StanSubscriptionOptions & JetStreamOptions> {
  return {
    ...(ackWaitMs === undefined ? {} : { ackWaitMs }),
    ...(maxInFlight === undefined ? {} : { maxInFlight }),
    ...(log === undefined ? {} : { log: log as StanSubscriptionOptions['log'] }),
  }
}
