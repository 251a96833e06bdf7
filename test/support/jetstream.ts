import { jetstream, jetstreamManager, type ConsumerInfo } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import pino from 'pino'
import { prepareJetStream, type JetStreamOptions } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerMessage, BrokerSubscription } from '../../src/ingest/transport.js'

export const silent = pino({ level: 'silent' })

/** Transport options for a test: its own stream and subject on the given servers, short waits. */
export function jetStreamOptions(servers: readonly string[], name: string, overrides: Partial<JetStreamOptions> = {}): JetStreamOptions {
  return {
    servers,
    stream: `S_${name}`,
    subject: `orders.${name}`,
    consumer: 'order-service',
    replicas: 1,
    duplicateWindowMs: 120_000,
    ackWaitMs: 5_000,
    maxAckPending: 10_000,
    maxInFlight: 256,
    name: `test-${name}`,
    log: silent,
    retry: { initialMs: 50, maxMs: 500 },
    pullExpiresMs: 2_000,
    ...overrides,
  }
}

/** Prepares and opens the subscription; a setup problem fails the test with its message. */
export async function openJetStream(options: JetStreamOptions, onMessage: (message: BrokerMessage) => void): Promise<BrokerSubscription> {
  const ready = await prepareJetStream(options)
  if (!ready.ok) throw new Error(`${ready.code}: ${ready.message}`)
  return ready.open(onMessage)
}

/** Publishes with the official client, as any producer would; resolves when the stream has stored every message. */
export function publishJetStream(servers: readonly string[], subject: string, payloads: readonly (string | Uint8Array)[]): Promise<number[]> {
  return connected(servers, async (nc) => {
    const js = jetstream(nc)
    const sequences: number[] = []
    for (const payload of payloads) sequences.push((await js.publish(subject, payload)).seq)
    return sequences
  })
}

/** Publishes for `ms` as fast as the server stores, 50 messages at a time; resolves with how many were stored. */
export function publishSteadily(servers: readonly string[], subject: string, ms: number): Promise<number> {
  return connected(servers, async (nc) => {
    const js = jetstream(nc)
    let published = 0
    for (const end = performance.now() + ms; performance.now() < end; published += 50) {
      await Promise.all(Array.from({ length: 50 }, () => js.publish(subject, '{}')))
    }
    return published
  })
}

/** The consumer's state as the server reports it. */
export function consumerState(servers: readonly string[], stream: string, consumer: string): Promise<ConsumerInfo> {
  return connected(servers, async (nc) => (await jetstreamManager(nc)).consumers.info(stream, consumer))
}

/** Runs `use` on a connection of its own, closed after it, however it ends. */
async function connected<T>(servers: readonly string[], use: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers: [...servers] })
  try {
    return await use(nc)
  } finally {
    await nc.close()
  }
}
