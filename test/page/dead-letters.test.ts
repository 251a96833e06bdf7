import { createHash } from 'node:crypto'
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { generateOrder } from '../../src/publisher/generate-orders.js'
import type { RejectReason } from '../../src/ingest/verdict.js'
import { acks } from '../support/events.js'
import { startTestService } from '../support/service.js'
import { holdFirstAnswer, textOf, waitForState } from './browser.js'
import { useBrowserTest } from './hooks.js'

/** The dead-letter view in Chromium; no ADMIN_TOKEN, so the admin routes answer this loopback browser. */
const seed = 43
const ui = useBrowserTest(() => startTestService())
let page: Page
beforeEach(() => {
  page = ui.page
})

/** Publishes messages and waits for the service to dead-letter them all; returns the last one's dead-letter id. */
async function publishRejected(...payloads: string[]): Promise<string> {
  const acked = acks(ui.svc.service.events, payloads.length)
  await ui.svc.publish(payloads)
  await acked
  // Acked after the commit that wrote their dead letters.
  const bytes = Buffer.from(payloads.at(-1)!)
  const [row] = await ui.svc.db.sql<{ id: string }[]>`select id::text as id from dead_letters where payload = ${bytes}`
  expect(row, 'the last payload is dead-lettered').toBeDefined()
  return row!.id
}

/** Stores a dead letter as the writer would have left it, without going through the gate; returns its id. */
async function insertDeadLetter(reason: RejectReason, text: string, orderUid: string | null = null): Promise<string> {
  const payload = Buffer.from(text)
  const [inserted] = await ui.svc.db.sql<{ id: string }[]>`
    insert into dead_letters (channel, broker_seq, reason, errors, order_uid, payload, payload_size, payload_sha256)
    values (${ui.svc.config.STAN_CHANNEL}, null, ${reason}, ${JSON.stringify([{ path: '/locale', message: 'was not allowed' }])}::jsonb,
            ${orderUid}, ${payload}, ${payload.byteLength}, ${createHash('sha256').update(payload).digest()})
    returning id::text as id`
  return inserted!.id
}

/** Every reason a dead letter can carry: the type makes this list complete, so a new reason fails the type check here. */
const everyReason = Object.keys({
  empty: true, too_large: true, not_utf8: true, not_json: true, schema: true, conflict: true, unstorable: true,
} satisfies Record<RejectReason, true>) as RejectReason[]

/** Opens the dead-letter view and waits for its list; returns the row of dead letter `id`. */
async function openDeadLetters(id: string) {
  await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
  await waitForState(page, 'dead-letters-status', 'idle')
  const row = page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
  await row.waitFor({ state: 'visible' })
  return row
}

describe('Dead-letter view', () => {
  it('When garbage is published, then it is listed newest first with its reason, size and a text preview, and Replay says rejected', async () => {
    // Ten earlier rejects, so row ids pass from one digit to two: newest-first must be numeric, not textual.
    await publishRejected(...Array.from({ length: 10 }, (_, index) => `garbage number ${index}`))
    const garbage = 'not json <img src=x onerror="window.__pwned=1"> <script>window.__pwned=1</script>'
    const id = await publishRejected(garbage)
    const row = await openDeadLetters(id)
    const rows = await page.getByTestId('dead-letter-row').all()
    const listed = (await Promise.all(rows.map((listedRow) => listedRow.getAttribute('data-id')))).map(Number)
    expect(listed[0]).toBe(Number(id))
    expect(listed).toEqual([...listed].sort((a, b) => b - a))

    expect(await row.getByTestId('dead-letter-reason').textContent()).toBe('not_json')
    expect(await row.getByTestId('dead-letter-size').textContent()).toBe(`${Buffer.byteLength(garbage)} B`)
    expect(await row.getByTestId('dead-letter-preview').textContent()).toBe(garbage)
    expect(await row.getByTestId('dead-letter-time').getAttribute('datetime')).toMatch(/^\d{4}-\d\d-\d\dT/)
    expect(await page.getByTestId('dead-letter-list').locator('img, script').count()).toBe(0)

    await row.getByTestId('replay-button').click()
    const outcome = row.getByTestId('replay-outcome')
    await page.waitForSelector(`[data-testid="dead-letter-row"][data-id="${id}"] [data-testid="replay-outcome"][data-outcome="rejected"]`, { state: 'attached' })
    expect(await outcome.textContent()).toContain('not_json')
    const [stored] = await ui.svc.db.sql<{ replay_outcome: string }[]>`select replay_outcome from dead_letters where id = ${id}::bigint`
    expect(stored?.replay_outcome).toMatch(/^rejected/)
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined')
  })

  it('When an order breaks the schema, then its errors are listed by path and the full payload opens as JSON', async () => {
    const order = generateOrder(seed, 0) as unknown as { items: Record<string, unknown>[] }
    ;(order.items[0] as Record<string, unknown>).price = 'twelve'
    const payload = JSON.stringify(order)
    const id = await publishRejected(payload)
    const row = await openDeadLetters(id)

    expect(await row.getByTestId('dead-letter-reason').textContent()).toBe('schema')
    expect(await row.getByTestId('dead-letter-errors').textContent()).toContain('/items/0/price')
    await row.getByTestId('dead-letter-expand').click()
    await page.waitForSelector(`[data-testid="dead-letter-row"][data-id="${id}"] [data-testid="dead-letter-payload-state"][data-state="loaded"]`, { state: 'attached' })
    expect(JSON.parse((await row.getByTestId('dead-letter-payload').textContent()) ?? '')).toEqual(order)
  })

  it('When a dead letter holds a valid order, then Replay stores it and the order can be looked up', async () => {
    ui.session.expectFailedResponse(404)
    const order = generateOrder(seed, 1)
    // As if the schema had refused it yesterday and been relaxed since: the row the writer would have left.
    const id = await insertDeadLetter('schema', JSON.stringify(order), order.order_uid)

    await page.goto(new URL(`/?id=${order.order_uid}`, ui.svc.url).href)
    await waitForState(page, 'status', 'not-found')
    await page.getByTestId('tab-dead-letters').click()
    await waitForState(page, 'dead-letters-status', 'idle')
    const row = page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
    expect(await row.getByTestId('dead-letter-order').textContent()).toBe(order.order_uid)

    await row.getByTestId('replay-button').click()
    await page.waitForSelector(`[data-testid="dead-letter-row"][data-id="${id}"] [data-testid="replay-outcome"][data-outcome="stored"]`, { state: 'attached' })
    await row.getByTestId('replay-outcome').getByRole('link', { name: 'Look it up' }).click()
    await waitForState(page, 'status', 'found')
    expect(await textOf(page, 'order-uid')).toBe(order.order_uid)
    expect(await textOf(page, 'delivery-name')).toBe(order.delivery.name)
  })

  it('When dead letters of every reason are listed, then each shows a sentence saying why', async () => {
    const ids = new Map<RejectReason, string>()
    for (const reason of everyReason) ids.set(reason, await insertDeadLetter(reason, `a ${reason} payload`))
    await openDeadLetters(ids.get('unstorable')!)
    for (const [reason, id] of ids) {
      const row = page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
      expect(await row.getByTestId('dead-letter-reason').textContent()).toBe(reason)
      expect(await row.getByTestId('dead-letter-why').textContent(), reason).toMatch(/^(the|an) /)
    }
  })

  it('When Refresh is clicked while the list loads, then the list loads again after and shows what arrived meanwhile', async () => {
    const earlier = await insertDeadLetter('not_json', 'listed by the first load')
    const held = await holdFirstAnswer(page, '/dead-letters')
    await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
    await held.taken
    const later = await insertDeadLetter('not_json', 'stored after the first answer')

    await page.getByTestId('dead-letters-refresh').click()
    held.release()
    const row = (id: string) => page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
    await row(later).waitFor({ state: 'visible' })
    await waitForState(page, 'dead-letters-status', 'idle')
    expect(await row(earlier).count()).toBe(1)
    expect(await page.getByTestId('dead-letter-row').first().getAttribute('data-id')).toBe(later)
  })
})
