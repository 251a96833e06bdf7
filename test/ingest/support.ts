import stan from 'node-nats-streaming'
import pino from 'pino'
import { createBatchWriter, type BatchWriterOptions, type OrderCacheWriter } from '../../src/ingest/batch-writer.js'
import { checkInThisThread, createGate } from '../../src/ingest/gate.js'
import type { StanSubscriptionOptions } from '../../src/ingest/stan-subscription.js'
import { createMetrics, type Metrics } from '../../src/metrics.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { createOrderStore, type JsonbText } from '../../src/store/orders.js'
import { transactionOn, type Sql } from '../../src/store/db.js'
import type { StanServer } from '../../src/stan-server/index.js'

export { orderJson } from '../support/orders.js'

/** What the cache was given, in order: a real, minimal implementation of the writer's cache interface. */
export class RecordingCache implements OrderCacheWriter {
  readonly bodies = new Map<string, string>()
  set(orderUid: string, body: JsonbText): void {
    this.bodies.set(orderUid, typeof body === 'string' ? body : Buffer.from(body).toString('utf8'))
  }
  has(orderUid: string): boolean {
    return this.bodies.has(orderUid)
  }
}

/** What a test names of a NATS Streaming subscription; the rest comes from stanOptions. */
export type StanSettings = Pick<StanSubscriptionOptions, 'clientId' | 'channel'> & Partial<StanSubscriptionOptions>

/** Subscription options for a test: the given broker, the service's durable name, short waits, silent. */
export function stanOptions(broker: Pick<StanServer, 'url' | 'clusterId'>, settings: StanSettings): StanSubscriptionOptions {
  return {
    servers: [broker.url],
    clusterId: broker.clusterId,
    durableName: 'order-service',
    maxInFlight: 64,
    ackWaitMs: 5_000,
    log: pino({ level: 'silent' }),
    retry: { initialMs: 50, maxMs: 500 },
    ...settings,
  }
}

/** A writer on a real database, with the acks it sends recorded by sequence. */
export function writerFor(sql: Sql, overrides: Partial<BatchWriterOptions> = {}) {
  const metrics = overrides.metrics ?? createMetrics({ processMetrics: false })
  const cache = new RecordingCache()
  const acked: number[] = []
  const writer = createBatchWriter({
    transaction: transactionOn(sql),
    orders: createOrderStore(sql),
    deadLetters: createDeadLetterStore(sql, { maxPayloadBytes: 64 * 1024 }),
    cache,
    metrics,
    gate: checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 })),
    channel: 'orders',
    maxBatch: 500,
    // Long enough that messages added in one go form one batch; stop() flushes at once.
    maxWaitMs: 10_000,
    log: pino({ level: 'silent' }),
    backoff: { initialMs: 20, maxMs: 200 },
    ...overrides,
  })
  const deliver = (sequence: number, payload: string | Buffer) =>
    writer.add({
      data: typeof payload === 'string' ? Buffer.from(payload) : payload,
      sequence,
      ack: () => acked.push(sequence),
    })
  return { writer, deliver, acked, cache, metrics }
}

/** Messages counted by outcome and reason, e.g. { 'stored': 2, 'dead_lettered/conflict': 1 }. */
export async function outcomes(metrics: Metrics): Promise<Record<string, number>> {
  const { values } = await metrics.messages.get()
  return Object.fromEntries(values.map((v) => [[v.labels.outcome, v.labels.reason].filter(Boolean).join('/'), v.value]))
}

/** Publishes with node-nats-streaming, as any producer would; resolves when the broker acked every message. */
export async function publishStan(broker: Pick<StanServer, 'url' | 'clusterId'>, channel: string, payloads: string[]): Promise<void> {
  const connection = stan.connect(broker.clusterId, `publisher-${process.pid}-${channel}`, { url: broker.url })
  await new Promise<void>((resolve, reject) => {
    connection.once('connect', () => resolve())
    connection.once('error', reject)
  })
  for (const payload of payloads) {
    await new Promise<void>((resolve, reject) => connection.publish(channel, payload, (error) => (error ? reject(error) : resolve())))
  }
  await new Promise<void>((resolve) => {
    connection.once('close', () => resolve())
    connection.close()
  })
}
