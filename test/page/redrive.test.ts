import { createHash } from 'node:crypto'
import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import type { RejectReason } from '../../src/ingest/verdict.js'
import { orderJson } from '../support/orders.js'
import { startTestService } from '../support/service.js'
import { waitForState } from './browser.js'
import { useBrowserTest } from './hooks.js'

/** The dead-letter view's bulk re-drive in Chromium, on the whole service; no ADMIN_TOKEN (a loopback browser). */
const ui = useBrowserTest(() => startTestService())
let page: Page
beforeEach(async () => {
  page = ui.page
  await ui.svc.db.sql`truncate orders, dead_letters, dead_letter_redrives, dead_letter_redrive_letters restart identity`
})

/** A dead letter as the writer would have left it; returns its id. */
async function insertDeadLetter(reason: RejectReason, text: string, orderUid: string | null = null): Promise<string> {
  const payload = Buffer.from(text)
  const [inserted] = await ui.svc.db.sql<{ id: string }[]>`
    insert into dead_letters (channel, broker_seq, reason, errors, order_uid, payload, payload_size, payload_sha256)
    values (${ui.svc.config.STAN_CHANNEL}, null, ${reason}, '[]'::jsonb, ${orderUid}, ${payload}, ${payload.byteLength}, ${createHash('sha256').update(payload).digest()})
    returning id::text as id`
  return inserted!.id
}

/** Schema rejects of yesterday's stricter schema (three pass today, one still fails) and a not_json beside them. */
async function seedSchemaRejects(): Promise<string> {
  for (const uid of ['page-r1', 'page-r2', 'page-r3']) await insertDeadLetter('schema', orderJson(uid), uid)
  await insertDeadLetter('schema', orderJson('page-bad', (d) => (d.items = [])), 'page-bad')
  await insertDeadLetter('not_json', '{ nope')
  const id = await insertDeadLetter('schema', orderJson('page-r4'), 'page-r4')
  await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
  await waitForState(page, 'dead-letters-status', 'idle')
  return id
}

const orderCount = async () => (await ui.svc.db.sql<{ n: number }[]>`select count(*)::int as n from orders`)[0]!.n

describe('Dead-letter view: re-drive a reason', () => {
  it('When Re-drive is confirmed, then the confirmation states the count, and every letter of that reason goes through the gate again', async () => {
    const id = await seedSchemaRejects()
    const row = page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
    const status = row.getByTestId('redrive-status')

    await row.getByRole('button', { name: 'Re-drive all schema' }).click()
    await waitForState(page, 'redrive-status', 'confirm')
    expect(await status.getByTestId('redrive-question').textContent()).toBe(
      'Re-drive 5 dead letters of reason schema? Now 4 would be stored, 0 duplicate, 1 still rejected (schema 1).',
    )
    expect(await orderCount()).toBe(0)

    await status.getByRole('button', { name: 'Re-drive 5' }).click()
    await page.waitForSelector(`[data-testid="dead-letter-row"][data-id="${id}"] [data-testid="redrive-status"][data-state="finished"]`, { state: 'attached', timeout: 15_000 })
    expect(await status.textContent()).toMatch(/^Re-drive #\d+ finished: 4 were stored, 0 duplicate, 1 still rejected \(schema 1\)\.$/)
    expect(await orderCount()).toBe(4)
    const [notJson] = await ui.svc.db.sql<{ replay_outcome: string | null }[]>`select replay_outcome from dead_letters where reason = 'not_json'`
    expect(notJson?.replay_outcome).toBeNull()
  })

  it('When the confirmation is cancelled, then nothing is re-driven', async () => {
    const id = await seedSchemaRejects()
    const row = page.locator(`[data-testid="dead-letter-row"][data-id="${id}"]`)
    await row.getByTestId('redrive-button').click()
    await waitForState(page, 'redrive-status', 'confirm')
    await row.getByTestId('redrive-cancel').click()

    expect(await row.getByTestId('redrive-status').getAttribute('data-state')).toBe('idle')
    expect(await row.getByTestId('redrive-button').isEnabled()).toBe(true)
    expect(await orderCount()).toBe(0)
    expect(await ui.svc.db.sql`select 1 from dead_letter_redrives`).toHaveLength(0)
  })
})
