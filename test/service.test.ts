import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { PortInUseError } from '../src/errors.js'
import { generateOrder } from '../src/publisher/generate-orders.js'
import { startService } from '../src/service.js'
import { startStanServer, type StanServer } from '../src/stan-server/index.js'
import { acks } from './support/events.js'
import { consumerState } from './support/jetstream.js'
import { occupyPort } from './support/ports.js'
import { startTestDatabase, type TestDatabase } from './support/postgres.js'
import { eventually } from './support/events.js'
import { startTestService, type TestService } from './support/service.js'

/**
 * The whole service as a user meets it: publish on the broker, read over HTTP, count rows in PostgreSQL. One list
 * of cases, run on each transport; what only one transport has is in its own describe (JetStream's own:
 * test/ingest/jetstream-service.test.ts).
 */
interface Transport {
  name: 'stan' | 'jetstream'
  env: Record<string, string>
  /** What dead letters name as their origin: the STAN channel, or the JetStream stream. */
  deadLetterChannel: string
  /**
   * Resolves once the broker holds nothing the service has not acked, as the broker itself reports it: NATS
   * Streaming's monitoring endpoint (the channel's subscriptions, as the real server's /streaming/channelsz
   * shows them), JetStream's consumer info.
   */
  drained: (svc: TestService, timeoutMs?: number) => Promise<unknown>
}

const transports: Transport[] = [
  {
    name: 'stan',
    env: {},
    deadLetterChannel: 'orders',
    drained: (svc, timeoutMs) =>
      eventually(async () => {
        const url = `${svc.broker!.monitorUrl}/streaming/channelsz?channel=${svc.config.STAN_CHANNEL}&subs=1`
        const channel = (await (await fetch(url)).json()) as { last_seq: number; subscriptions?: { queue_name?: string; last_sent: number; pending_count: number }[] }
        const group = (channel.subscriptions ?? []).filter((sub) => sub.queue_name?.endsWith(svc.config.STAN_QUEUE_GROUP))
        return group.length > 0 && group.every((sub) => sub.pending_count === 0) && Math.max(...group.map((sub) => sub.last_sent)) === channel.last_seq
          ? true
          : undefined
      }, timeoutMs),
  },
  {
    name: 'jetstream',
    env: { BROKER: 'jetstream' },
    deadLetterChannel: 'ORDERS',
    drained: (svc, timeoutMs) =>
      eventually(async () => {
        const state = await consumerState(svc.nats!.urls, svc.config.JETSTREAM_STREAM, svc.config.JETSTREAM_CONSUMER)
        return state.num_pending + state.num_ack_pending === 0 ? true : undefined
      }, timeoutMs),
  },
]

const seed = 7
const orderJson = (index: number, change: (order: Record<string, unknown>) => void = () => {}) => {
  const order = generateOrder(seed, index) as unknown as Record<string, unknown>
  change(order)
  return { uid: order.order_uid as string, json: JSON.stringify(order) }
}

describe.each(transports)('order-service end to end on $name', (transport) => {
  let svc: TestService
  beforeAll(async () => {
    svc = await startTestService(transport.env)
  })
  afterAll(() => svc?.stop())

  const get = (path: string, init?: RequestInit) => fetch(new URL(path, svc.url), init)
  const ready = async () => ((await get('/readyz')).status === 200 ? true : undefined)
  const rows = async (uid: string) => (await svc.db.sql`select count(*)::int as n from orders where order_uid = ${uid}`)[0]!.n as number
  const deadLetterReasons = async () =>
    (await svc.db.sql<{ reason: string }[]>`select reason from dead_letters order by id`).map((row) => row.reason)
  const drained = (timeoutMs?: number) => transport.drained(svc, timeoutMs)

  it('When an order is published, then it is stored once and served by id with an ETag', async () => {
    const { uid, json } = orderJson(1)
    const acked = acks(svc.service.events, 1)
    await svc.publish([json])
    await acked
    // Acked after the commit and after the cache has it: served at once.
    const response = await get(`/order/${uid}`)
    expect(await response.json()).toEqual(JSON.parse(json))
    expect(response.headers.get('cache-control')).toContain('immutable')
    const etag = response.headers.get('etag')!
    expect((await get(`/order/${uid}`, { headers: { 'if-none-match': etag } })).status).toBe(304)
    expect(await rows(uid)).toBe(1)
    await drained()
    await eventually(ready)
  })

  it('When the same order comes again and a different document under its id, then the one is a duplicate and the other a conflict dead letter naming its channel or stream', async () => {
    const { uid, json } = orderJson(2)
    const conflicting = orderJson(2, (order) => (order.track_number = 'CHANGED'))
    const stored = acks(svc.service.events, 1)
    await svc.publish([json])
    await stored
    const absorbed = acks(svc.service.events, 4)
    await svc.publish([json, json, conflicting.json, 'not json'])
    await absorbed
    const letters = await svc.db.sql<{ reason: string; channel: string; seq: number }[]>`
      select reason, channel, broker_seq::int as seq from dead_letters order by broker_seq`
    expect(letters.map((letter) => [letter.reason, letter.channel])).toEqual([
      ['conflict', transport.deadLetterChannel],
      ['not_json', transport.deadLetterChannel],
    ])
    expect(letters[1]!.seq).toBe(letters[0]!.seq + 1)
    expect(await rows(uid)).toBe(1)
    const served = (await (await get(`/order/${uid}`)).json()) as { track_number: string }
    expect(served.track_number).not.toBe('CHANGED')
    const metrics = await (await get('/metrics')).text()
    expect(metrics).toMatch(/order_messages_total\{outcome="duplicate"[^}]*\} 2/)
    await drained()
  })

  it('When garbage is published, then each message is dead-lettered with its reason and the channel keeps flowing', async () => {
    const before = (await deadLetterReasons()).length
    const { uid, json } = orderJson(3)
    const acked = acks(svc.service.events, 5)
    await svc.publish(['', '{"truncated": ', Buffer.from([0xff, 0xfe, 0x00]), '[1,2,3]', json])
    await acked
    expect(await rows(uid)).toBe(1)
    expect((await deadLetterReasons()).slice(before).sort()).toEqual(['empty', 'not_json', 'not_utf8', 'schema'])
    await drained()
  })

  it('When the service restarts, then its cache is filled from the table before it is ready and the durable resumes with what was published meanwhile', async () => {
    const { uid, json } = orderJson(4)
    const stored = acks(svc.service.events, 1)
    await svc.publish([json])
    await stored
    await svc.service.stop()
    // Published while nobody listens, taken when the durable resumes.
    const meanwhile = orderJson(5)
    await svc.publish([meanwhile.json])
    await svc.restart()
    // Before any delivery: startService resolves once the cache is filled; the subscription comes up just after.
    const resumed = acks(svc.service.events, 1)
    expect(((await (await get('/readyz')).json()) as { checks: unknown }).checks).toMatchObject({ database: true, cache: true })
    await eventually(ready)
    const metrics = await (await get('/metrics')).text()
    expect(Number(/order_cache_entries (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4)
    expect((await get(`/order/${uid}`)).status).toBe(200)
    await resumed
    expect(await rows(meanwhile.uid)).toBe(1)
    expect((await get(`/order/${meanwhile.uid}`)).status).toBe(200)
    // And what comes after the restart.
    const later = orderJson(6)
    const taken = acks(svc.service.events, 1)
    await svc.publish([later.json])
    await taken
    expect((await get(`/order/${later.uid}`)).status).toBe(200)
    await drained()
  })

  it('When PostgreSQL stops in the middle of a stream and starts again, then nothing is lost and nothing is doubled', async () => {
    const first = Array.from({ length: 50 }, (_, i) => orderJson(100 + i))
    const second = Array.from({ length: 50 }, (_, i) => orderJson(200 + i))
    // Acks, not the writer's `stored` counts: a commit whose answer is lost (the server stopping, or the write bound
    // passing while PostgreSQL commits) is written again and counted as a duplicate, and rightly so.
    const allAcked = acks(svc.service.events, first.length + second.length)
    await svc.publish(first.map((order) => order.json))
    await svc.db.stopServer()
    await svc.publish(second.map((order) => order.json))
    await eventually(async () => ((await get('/readyz')).status === 503 ? true : undefined))
    await new Promise((resolve) => setTimeout(resolve, 2_500)) // longer than the ack wait: the broker redelivers meanwhile
    await svc.db.startServer()
    const all = [...first, ...second]
    await allAcked
    const [row] = await svc.db.sql`select count(*)::int as n from orders where order_uid in ${svc.db.sql(all.map((o) => o.uid))}`
    expect(row!.n).toBe(all.length)
    const [doubled] = await svc.db.sql`select count(*)::int as n from (select order_uid from orders group by 1 having count(*) > 1) d`
    expect(doubled!.n).toBe(0)
    for (const order of [all[0]!, all[99]!]) expect((await get(`/order/${order.uid}`)).status).toBe(200)
    await eventually(ready, 15_000)
    await drained(15_000)
  }, 60_000)
})

describe('order-service with GATE_THREAD=off', () => {
  it('When the gate runs on the main thread, then orders are stored and served and rejects dead-lettered as with the thread', async () => {
    const plain = await startTestService({ GATE_THREAD: 'off' })
    try {
      const { uid, json } = orderJson(300)
      const acked = acks(plain.service.events, 2)
      await plain.publish([json, 'not json'])
      await acked
      const response = await fetch(new URL(`/order/${uid}`, plain.url))
      expect(await response.json()).toEqual(JSON.parse(json))
      const found = await plain.db.sql<{ reason: string }[]>`select reason from dead_letters`
      expect(found.map((row) => row.reason)).toEqual(['not_json'])
    } finally {
      await plain.stop()
    }
  })
})

describe('order-service with HTTP_PORT lost at listen time', () => {
  let db: TestDatabase
  let broker: StanServer
  beforeAll(async () => {
    db = await startTestDatabase()
    broker = await startStanServer({ port: 0 })
  })
  afterAll(async () => {
    await broker?.close()
    await db?.stop()
  })

  it('When another program listens on HTTP_PORT, then the start fails with port_in_use naming HTTP_PORT', async () => {
    const other = await occupyPort()
    try {
      const config = loadConfig({ HTTP_PORT: String(other.port) })
      const endpoints = { databaseUrl: db.url, stanServers: [broker.url], stanClusterId: broker.clusterId, natsServers: [] }
      const failure = await startService(config, endpoints, pino({ level: 'silent' })).then(
        async (started) => {
          await started.stop()
          return new Error('started with its port taken')
        },
        (error: unknown) => error,
      )
      expect(failure).toBeInstanceOf(PortInUseError)
      expect(failure).toMatchObject({ code: 'port_in_use', setting: 'HTTP_PORT', port: other.port })
    } finally {
      await other.close()
    }
  })
})
