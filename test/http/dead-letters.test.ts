import { describe, expect, it } from 'vitest'
import { transactionOn } from '../../src/store/db.js'
import { checkInThisThread, createGate } from '../../src/ingest/gate.js'
import { createReplay } from '../../src/ingest/replay.js'
import type { NewDeadLetter } from '../../src/store/dead-letters.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { buildApp, DEAD_LETTER_PAYLOAD_MAX_BYTES, fromAddress, orderJson } from './harness.js'

const db = testDatabaseForFile()

const TOKEN = 'a-long-enough-admin-token'
const auth = { authorization: `Bearer ${TOKEN}` }

const letter = (payload: Uint8Array | string, change: Partial<NewDeadLetter> = {}): NewDeadLetter => ({
  channel: 'orders',
  brokerSeq: null,
  reason: 'not_json',
  errors: [{ path: '', message: 'Unexpected token' }],
  orderUid: null,
  payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
  ...change,
})

/** The app with the real replay (gate, stores, cache) wired in, as the composition root does. */
function appWithReplay(adminToken: string | undefined) {
  const stores = buildApp(db)
  const replayDeadLetter = createReplay({
    transaction: transactionOn(db.sql),
    orders: stores.orders,
    deadLetters: stores.deadLetters,
    cache: stores.cache,
    gate: checkInThisThread(createGate({ maxMessageBytes: 256 * 1024 })),
  })
  return buildApp(db, { adminToken, replayDeadLetter, cache: stores.cache })
}

type Listed = { dead_letters: Array<Record<string, unknown> & { id: string }>; next: string | null }

describe('dead letters: reading', () => {
  it('When paged, then every dead letter comes once, newest first, with the contract fields and no payload', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    await deadLetters.insertMany(['one', 'two', 'three'].map((text, i) => letter(text, { brokerSeq: i + 1 })))

    const first = (await (await app.request('/dead-letters?limit=2', { headers: auth })).json()) as Listed
    const second = (await (await app.request(`/dead-letters?limit=2&before=${first.next}`, { headers: auth })).json()) as Listed

    expect([...first.dead_letters, ...second.dead_letters].map((row) => row.preview)).toEqual(['three', 'two', 'one'])
    expect(second.next).toBeNull()
    const row = first.dead_letters[0]!
    expect(row).toMatchObject({ channel: 'orders', broker_seq: '3', reason: 'not_json', order_uid: null, payload_size: 5, replayed_at: null, replay_outcome: null })
    expect(row.errors).toEqual([{ path: '', message: 'Unexpected token' }])
    expect(row.payload_sha256).toMatch(/^[0-9a-f]{64}$/)
    expect(Number.isNaN(Date.parse(row.received_at as string))).toBe(false)
    expect(row).not.toHaveProperty('payload')
  })

  it('When one dead letter is read, then its payload is text when it is UTF-8 and base64 otherwise', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    const binary = Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x7d])
    await deadLetters.insertMany([letter('{"not": json'), letter(binary, { reason: 'not_utf8' })])
    const [bin, text] = ((await (await app.request('/dead-letters', { headers: auth })).json()) as Listed).dead_letters

    const textRes = await app.request(`/dead-letters/${text!.id}`, { headers: auth })
    const binRes = await app.request(`/dead-letters/${bin!.id}`, { headers: auth })

    expect(textRes.status).toBe(200)
    expect(await textRes.json()).toMatchObject({ reason: 'not_json', payload: { encoding: 'utf8', data: '{"not": json', truncated: false } })
    expect(await binRes.json()).toMatchObject({ reason: 'not_utf8', preview: '{\uFFFD\uFFFD\u0000}', payload: { encoding: 'base64', data: binary.toString('base64'), truncated: false } })
  })

  it('When the id is unknown or malformed, then 404 not_found or 400 invalid_id', async () => {
    const { app } = appWithReplay(TOKEN)
    expect((await app.request('/dead-letters/999', { headers: auth })).status).toBe(404)
    for (const id of ['abc', '-1', '1'.repeat(20), '9223372036854775808']) {
      const res = await app.request(`/dead-letters/${id}`, { headers: auth })
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_id' } })
    }
  })

  it('When the list query is malformed, then 400 invalid_query', async () => {
    const { app } = appWithReplay(TOKEN)
    const res = await app.request('/dead-letters?limit=1000', { headers: auth })
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ error: { code: 'invalid_query' } })
  })
})

describe('dead letters: admin access', () => {
  it('When ADMIN_TOKEN is set, then no token or a wrong one gets 401 with WWW-Authenticate, the right one 200', async () => {
    const { app } = appWithReplay(TOKEN)
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-of-some-length' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
      const res = await app.request('/dead-letters', { headers })
      expect(res.status).toBe(401)
      expect(res.headers.get('www-authenticate')).toBe('Bearer')
      expect(await res.json()).toMatchObject({ error: { code: 'unauthorized' } })
    }
    // A token does not depend on where the client is.
    expect((await app.request('/dead-letters', { headers: auth }, fromAddress('203.0.113.9'))).status).toBe(200)
    expect((await app.request('/dead-letters/1/replay', { method: 'POST' })).status).toBe(401)
  })

  it('When ADMIN_TOKEN is not set, then only loopback peers are answered; an unknown peer is refused', async () => {
    const { app } = appWithReplay(undefined)
    for (const address of ['127.0.0.1', '::1', '::ffff:127.0.0.1']) {
      expect((await app.request('/dead-letters', {}, fromAddress(address))).status).toBe(200)
    }
    for (const env of [fromAddress('10.0.0.7'), fromAddress('::ffff:10.0.0.7'), undefined]) {
      const res = await app.request('/dead-letters', {}, env)
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } })
    }
  })

  it('When ADMIN_TOKEN is not set and a loopback request comes through a proxy (Forwarded, X-Forwarded-For), then 403', async () => {
    const { app } = appWithReplay(undefined)
    const proxied: Record<string, string>[] = [{ forwarded: 'for=203.0.113.9' }, { forwarded: 'for=127.0.0.1;proto=http' }, { 'x-forwarded-for': '203.0.113.9' }, { 'x-forwarded-for': '' }, { 'x-forwarded-for': '127.0.0.1' }]
    for (const headers of proxied) {
      for (const address of ['127.0.0.1', '::1']) {
        const res = await app.request('/dead-letters', { headers }, fromAddress(address))
        expect(res.status, JSON.stringify({ headers, address })).toBe(403)
        expect(await res.json()).toMatchObject({ error: { code: 'forbidden' } })
      }
    }
    expect((await app.request('/dead-letters/1/replay', { method: 'POST', headers: { 'x-forwarded-for': '10.0.0.7' } }, fromAddress('127.0.0.1'))).status).toBe(403)
    // The same requests with the token set are answered: the headers only take away the loopback exemption.
    const withToken = appWithReplay(TOKEN).app
    expect((await withToken.request('/dead-letters', { headers: { ...auth, forwarded: 'for=203.0.113.9' } }, fromAddress('127.0.0.1'))).status).toBe(200)
  })
})

describe('POST /dead-letters/:id/replay (the real ingest replay)', () => {
  it('When a dead letter now passes the gate, then it is stored, served, and a second replay is a duplicate', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    await deadLetters.insertMany([letter(orderJson('replayed-1'), { reason: 'schema', orderUid: 'replayed-1' })])
    const [row] = await deadLetters.list({ limit: 1 })

    const first = await app.request(`/dead-letters/${row!.id}/replay`, { method: 'POST', headers: auth })
    expect(first.status).toBe(200)
    expect(await first.json()).toEqual({ outcome: 'stored' })
    expect((await app.request('/order/replayed-1')).status).toBe(200)

    const again = await app.request(`/dead-letters/${row!.id}/replay`, { method: 'POST', headers: auth })
    expect(await again.json()).toEqual({ outcome: 'duplicate' })
    const shown = (await (await app.request(`/dead-letters/${row!.id}`, { headers: auth })).json()) as Record<string, unknown>
    expect(shown.replay_outcome).toBe('duplicate')
  })

  it('When the payload still fails the gate, then 200 rejected with the reason and errors', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    await deadLetters.insertMany([letter('{"broken":')])
    const [row] = await deadLetters.list({ limit: 1 })

    const res = await app.request(`/dead-letters/${row!.id}/replay`, { method: 'POST', headers: auth })

    expect(res.status).toBe(200)
    const body = (await res.json()) as { outcome: string; reason: string; errors: unknown[] }
    expect(body).toMatchObject({ outcome: 'rejected', reason: 'not_json' })
    expect(body.errors.length).toBeGreaterThan(0)
  })

  it('When the stored payload was truncated, then 409 truncated; when the id is unknown, 404', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    await deadLetters.insertMany([letter('x'.repeat(DEAD_LETTER_PAYLOAD_MAX_BYTES + 10), { reason: 'too_large' })])
    const [row] = await deadLetters.list({ limit: 1 })

    const truncated = await app.request(`/dead-letters/${row!.id}/replay`, { method: 'POST', headers: auth })
    expect(truncated.status).toBe(409)
    expect(await truncated.json()).toMatchObject({ error: { code: 'truncated' } })
    expect((await app.request('/dead-letters/424242/replay', { method: 'POST', headers: auth })).status).toBe(404)
  })

  it('When a dead letter\'s id has 19 digits, then reading and replaying it agree: one id rule for the route and the replay', async () => {
    const { app, deadLetters } = appWithReplay(TOKEN)
    await db.sql`select setval(pg_get_serial_sequence('dead_letters', 'id'), 999999999999999999)`
    await deadLetters.insertMany([letter(orderJson('nineteen-digits'), { reason: 'schema', orderUid: 'nineteen-digits' })])
    const id = '1000000000000000000'

    expect((await app.request(`/dead-letters/${id}`, { headers: auth })).status).toBe(200)
    const replayed = await app.request(`/dead-letters/${id}/replay`, { method: 'POST', headers: auth })
    expect(await replayed.json()).toEqual({ outcome: 'stored' })
    // Leading zeros name no row, the same for both: refused before PostgreSQL sees them.
    for (const path of [`/dead-letters/0${id}`, `/dead-letters/0`, `/dead-letters/0${id}/replay`]) {
      const res = await app.request(path, { method: path.endsWith('/replay') ? 'POST' : 'GET', headers: auth })
      expect(res.status, path).toBe(400)
    }
  })

  it('When a body is sent beyond the bound, then 413 payload_too_large', async () => {
    const { app } = appWithReplay(TOKEN)
    const res = await app.request('/dead-letters/1/replay', { method: 'POST', headers: auth, body: 'x'.repeat(4096) })
    expect(res.status).toBe(413)
    expect(await res.json()).toMatchObject({ error: { code: 'payload_too_large' } })
  })
})
