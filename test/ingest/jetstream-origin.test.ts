import { jetstream } from '@nats-io/jetstream'
import { connect, headers } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { copiedFrom } from '../../src/ingest/jetstream-subscription.js'
import type { BrokerSubscription } from '../../src/ingest/transport.js'
import { createDeadLetterStore } from '../../src/store/dead-letters.js'
import { acks } from '../support/events.js'
import { jetStreamOptions, openJetStream } from '../support/jetstream.js'
import { startNatsNode, type TestNats } from '../support/nats-server.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { orderJson, writerFor } from './support.js'

/** Messages stan2js copied from NATS Streaming to JetStream carry their origin in two headers: dead letters keep it. */
let db: TestDatabase
let nats: TestNats
let subscription: BrokerSubscription | undefined

beforeAll(async () => {
  ;[db, nats] = await Promise.all([startTestDatabase(), startNatsNode()])
})
afterAll(async () => {
  await subscription?.close()
  await nats?.close()
  await db?.stop()
})

/** Publishes as stan2js does: the payload as it was, the STAN channel and sequence in headers (when given). */
async function publishCopied(subject: string, messages: { payload: string; channel?: string; sequence?: string }[]) {
  const nc = await connect({ servers: nats.urls })
  try {
    const js = jetstream(nc)
    for (const message of messages) {
      const copied = headers()
      if (message.channel !== undefined) copied.set('Nats-Streaming-Channel', message.channel)
      if (message.sequence !== undefined) copied.set('Nats-Streaming-Sequence', message.sequence)
      await js.publish(subject, message.payload, { headers: copied })
    }
  } finally {
    await nc.close()
  }
}

describe('messages copied from NATS Streaming (stan2js)', () => {
  it('When a copied message is dead-lettered, then its dead letter records the STAN channel and sequence; other messages record none', async () => {
    const options = jetStreamOptions(nats.urls, 'copied')
    const service = writerFor(db.sql, { channel: options.stream, maxWaitMs: 0 })
    subscription = await openJetStream(options, (message) => service.writer.add(message))
    const acked = acks(service.writer.events, 5)

    await publishCopied(options.subject, [
      { payload: 'not json, copied', channel: 'orders', sequence: '41' },
      { payload: orderJson('copied-ok'), channel: 'orders', sequence: '42' },
      { payload: 'not json, published on JetStream' },
      { payload: 'not json, a malformed sequence', channel: 'orders', sequence: '-3' },
      { payload: 'not json, a channel with a space', channel: 'or ders', sequence: '44' },
    ])
    await acked

    const letters = await createDeadLetterStore(db.sql, { maxPayloadBytes: 4096 }).list({ limit: 10 })
    expect(letters.map((letter) => [letter.preview, letter.channel, letter.broker_seq, letter.origin_channel, letter.origin_seq]).sort((a, b) => Number(a[2]) - Number(b[2]))).toEqual([
      ['not json, copied', options.stream, '1', 'orders', '41'],
      ['not json, published on JetStream', options.stream, '3', null, null],
      ['not json, a malformed sequence', options.stream, '4', null, null],
      ['not json, a channel with a space', options.stream, '5', null, null],
    ])
    expect(await service.writer.stop()).toBeUndefined()
  })

  it('Should read the origin only when both headers are there and well formed', () => {
    const with_ = (entries: Record<string, string>) => {
      const h = headers()
      for (const [name, value] of Object.entries(entries)) h.set(name, value)
      return copiedFrom({ headers: h })
    }
    expect(with_({ 'Nats-Streaming-Channel': 'orders.eu', 'Nats-Streaming-Sequence': '9007199254740991' })).toEqual({ channel: 'orders.eu', sequence: 9007199254740991 })
    expect(with_({ 'Nats-Streaming-Channel': 'orders' })).toBeUndefined()
    expect(with_({ 'Nats-Streaming-Sequence': '1' })).toBeUndefined()
    expect(with_({ 'Nats-Streaming-Channel': 'orders', 'Nats-Streaming-Sequence': '99999999999999999' })).toBeUndefined()
    expect(with_({ 'Nats-Streaming-Channel': 'orders', 'Nats-Streaming-Sequence': '0' })).toBeUndefined()
    expect(copiedFrom({ headers: undefined })).toBeUndefined()
  })
})
