import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { checkInThisThread, createGate } from '../../src/ingest/gate.js'
import { createRedrive, createRedriveRunner, type RedriveRunner } from '../../src/ingest/redrive.js'
import { createReplayStep } from '../../src/ingest/replay.js'
import { createRedriveStore } from '../../src/store/dead-letter-redrives.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { buildApp, fromAddress, orderJson } from './harness.js'

let db: TestDatabase
let runners: RedriveRunner[] = []

beforeAll(async () => {
  db = await startTestDatabase()
})
afterAll(() => db?.stop())
beforeEach(async () => {
  await Promise.all(runners.map((runner) => runner.close()))
  runners = []
  await db.truncate()
})

const TOKEN = 'a-long-enough-admin-token'
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

/** The app with the service's re-drive wired in; `ended` resolves when a background re-drive has ended. */
function appWithRedrive(adminToken: string | undefined) {
  const base = buildApp(db)
  let ended!: (fields: object) => void
  const endedOnce = new Promise<object>((resolve) => (ended = resolve))
  const log = {
    info: (fields: object, message: string) => message === 'dead-letter re-drive ended' && ended(fields),
    warn: (fields: object) => ended(fields),
  }
  const redrives = createRedriveRunner(
    createRedrive({
      transaction: (work) => db.sql.begin(work) as never,
      store: createRedriveStore(db.sql),
      deadLetters: base.deadLetters,
      replayLetter: createReplayStep({ orders: base.orders, deadLetters: base.deadLetters, gate: checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 })) }),
      cache: base.cache,
      metrics: base.metrics,
      batchSize: 3,
    }),
    log,
  )
  runners.push(redrives)
  const built = buildApp(db, { adminToken, redrives, cache: base.cache, metrics: base.metrics })
  return { ...built, ended: endedOnce }
}

async function seed(app: ReturnType<typeof appWithRedrive>) {
  await app.deadLetters.insertMany([
    ...['h1', 'h2', 'h3', 'h4'].map((uid, i) => ({ channel: 'orders', brokerSeq: i + 1, reason: 'schema' as const, errors: [], orderUid: uid, payload: Buffer.from(orderJson(uid)) })),
    { channel: 'orders', brokerSeq: 9, reason: 'schema', errors: [], orderUid: 'h9', payload: Buffer.from(orderJson('h9', (d) => (d.items = []))) },
    { channel: 'orders', brokerSeq: 10, reason: 'not_json', errors: [], orderUid: null, payload: Buffer.from('{') },
  ])
}

const post = (body: unknown, headers: Record<string, string> = auth) =>
  ({ method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) }) as const

describe('POST /dead-letters/redrive', () => {
  it('When a dry run is asked for a reason, then it answers the counts and nothing changes', async () => {
    const app = appWithRedrive(TOKEN)
    await seed(app)

    const response = await app.app.request('/dead-letters/redrive', post({ reason: 'schema', dry_run: true }))

    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      dry_run: true,
      selection: { reason: 'schema', channel: null, from: null, to: null, limit: null },
      selected: 5,
      stored: 4,
      duplicate: 0,
      rejected: { schema: 1 },
      truncated: 0,
    })
    expect(await app.orders.count()).toBe(0)
  })

  it('When a re-drive is started, then it answers 202 with its progress and works through it in the background', async () => {
    const app = appWithRedrive(TOKEN)
    await seed(app)

    const response = await app.app.request('/dead-letters/redrive', post({ reason: 'schema' }))
    expect(response.status).toBe(202)
    const { redrive } = (await response.json()) as { redrive: { id: string; total: number } }
    expect(redrive.total).toBe(5)
    expect(response.headers.get('location')).toBe(`/dead-letters/redrive/${redrive.id}`)
    await app.ended

    const state = await app.app.request(`/dead-letters/redrive/${redrive.id}`, { headers: auth })
    expect(state.status).toBe(200)
    expect(await state.json()).toMatchObject({ redrive: { id: redrive.id, total: 5, done: 5, finished: true, stored: 4, duplicate: 0, rejected: { schema: 1 }, truncated: 0 } })
    expect(await app.orders.count()).toBe(4)
    const metrics = await (await app.app.request('/metrics')).text()
    expect(metrics).toContain('order_dead_letters_redriven_total{outcome="stored"} 4')
    expect(metrics).toContain('order_dead_letters_redriven_total{outcome="rejected"} 1')
  })

  it('When the body is not a valid selection, then it is 400 invalid_body naming the problem', async () => {
    const app = appWithRedrive(TOKEN)
    const answers = await Promise.all(
      ['{', '[]', JSON.stringify({ reason: 'whatever' }), JSON.stringify({ dry_run: 'yes' }), JSON.stringify({ from: '2026-02-01', to: '2026-01-01' })].map(async (body) => {
        const response = await app.app.request('/dead-letters/redrive', post(body))
        return [response.status, ((await response.json()) as { error: { code: string; message: string } }).error] as const
      }),
    )
    expect(answers.map(([status, error]) => [status, error.code])).toEqual(Array(5).fill([400, 'invalid_body']))
    expect(answers[2]![1].message).toMatch(/^reason must be one of/)
    expect(answers[4]![1].message).toBe('to must be after from')
    expect((await app.app.request('/dead-letters/redrive/12345', { headers: auth })).status).toBe(404)
  })

  it('When the caller is not an admin, then nothing is selected or started (401 with a token set, 403 from afar without)', async () => {
    const withToken = appWithRedrive(TOKEN)
    await seed(withToken)
    const noToken = await withToken.app.request('/dead-letters/redrive', post({ dry_run: true }, { 'content-type': 'application/json' }))
    expect(noToken.status).toBe(401)
    const remote = appWithRedrive(undefined)
    const proxied = await remote.app.request('/dead-letters/redrive', post({}, { 'content-type': 'application/json' }), fromAddress('10.0.0.7'))
    expect(proxied.status).toBe(403)
    expect((await remote.app.request('/dead-letters/redrive/1', {}, fromAddress('10.0.0.7'))).status).toBe(403)
    expect(await db.sql`select 1 from dead_letter_redrives`).toHaveLength(0)
  })
})
