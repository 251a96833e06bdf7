import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config.js'
import { generateOrder } from '../../src/publisher/generate-orders.js'
import { startService } from '../../src/service.js'
import { StartupError } from '../../src/errors.js'
import { acks } from '../support/events.js'
import { consumerState, silent } from '../support/jetstream.js'
import { eventually, startTestService, type TestService } from '../support/service.js'

/** The whole service on JetStream as a user meets it: publish on the subject, read over HTTP, count rows in PostgreSQL. */
let svc: TestService
const seed = 13

beforeAll(async () => {
  svc = await startTestService({ BROKER: 'jetstream' })
})
afterAll(() => svc?.stop())

const orderJson = (index: number, change: (order: Record<string, unknown>) => void = () => {}) => {
  const order = generateOrder(seed, index) as unknown as Record<string, unknown>
  change(order)
  return { uid: order.order_uid as string, json: JSON.stringify(order) }
}
const get = (path: string) => fetch(new URL(path, svc.url))
const rows = async (uid: string) => (await svc.db.sql`select count(*)::int as n from orders where order_uid = ${uid}`)[0]!.n as number
const stored = async (uid: string) => ((await rows(uid)) === 1 ? true : undefined)
const nothingPending = async () => {
  const state = await consumerState(svc.nats!.urls, 'ORDERS', 'order-service')
  return state.num_pending + state.num_ack_pending === 0 ? true : undefined
}

describe('order-service end to end on JetStream', () => {
  it('When an order is published, then it is stored once, served by id, and nothing is left pending on the consumer', async () => {
    const { uid, json } = orderJson(1)
    const acked = acks(svc.service.events, 1)
    await svc.publish([json])
    await acked
    expect(await (await get(`/order/${uid}`)).json()).toEqual(JSON.parse(json))
    await eventually(nothingPending)
    await eventually(async () => ((await get('/readyz')).status === 200 ? true : undefined))
  })

  it('When the same order comes again and a different document under its id, then one is a duplicate and the other a conflict dead letter naming the stream', async () => {
    const { uid, json } = orderJson(2)
    const conflicting = orderJson(2, (order) => (order.track_number = 'CHANGED'))
    const stored = acks(svc.service.events, 1)
    await svc.publish([json])
    await stored
    const absorbed = acks(svc.service.events, 3)
    await svc.publish([json, conflicting.json, 'not json'])
    await absorbed
    const letters = await svc.db.sql<{ reason: string; channel: string; seq: number }[]>`
      select reason, channel, broker_seq::int as seq from dead_letters order by broker_seq`
    expect(letters.map((letter) => [letter.reason, letter.channel])).toEqual([
      ['conflict', 'ORDERS'],
      ['not_json', 'ORDERS'],
    ])
    expect(letters[1]!.seq).toBe(letters[0]!.seq + 1)
    expect(await rows(uid)).toBe(1)
    await eventually(nothingPending)
  })

  it('When the service restarts, then the durable consumer resumes with what was published meanwhile', async () => {
    await svc.service.stop()
    const later = orderJson(3)
    await svc.publish([later.json])
    await svc.restart()
    await eventually(() => stored(later.uid))
    await eventually(nothingPending)
  })

  it('When PostgreSQL stops in the middle of a stream and starts again, then nothing is lost and nothing is doubled', async () => {
    const all = Array.from({ length: 60 }, (_, i) => orderJson(100 + i))
    await svc.publish(all.slice(0, 30).map((order) => order.json))
    await svc.db.stopServer()
    await svc.publish(all.slice(30).map((order) => order.json))
    await eventually(async () => ((await get('/readyz')).status === 503 ? true : undefined))
    await svc.db.startServer()
    await eventually(async () => {
      const [row] = await svc.db.sql`select count(*)::int as n from orders where order_uid in ${svc.db.sql(all.map((o) => o.uid))}`
      return row!.n === all.length ? true : undefined
    }, 30_000)
    await eventually(nothingPending, 15_000)
  }, 60_000)

  it('When the configured stream exists without the subject, then start-up fails with a StartupError naming both, and undoes itself', async () => {
    const nc = await connect({ servers: svc.nats!.urls })
    await (await jetstreamManager(nc)).streams.add({ name: 'ELSEWHERE', subjects: ['elsewhere'] })
    await nc.close()
    const config = loadConfig({ BROKER: 'jetstream', JETSTREAM_STREAM: 'ELSEWHERE', JETSTREAM_SUBJECT: 'orders', HTTP_PORT: '0', GATE_THREAD: 'off' })
    const starting = startService(config, { databaseUrl: svc.db.url, stanServers: [], stanClusterId: '', natsServers: svc.nats!.urls }, silent)
    await expect(starting).rejects.toBeInstanceOf(StartupError)
    await expect(starting).rejects.toMatchObject({ code: 'stream_subjects_mismatch', message: expect.stringContaining('["elsewhere"]') })
  })
})
