// Pictures of the page for the README: the order lookup and the dead-letter view, desktop and phone widths.
// Runs the whole service in-process (embedded PostgreSQL and broker), fills it with generated orders and a few
// rejected messages, and photographs it in Chromium. Run: node --import tsx test/page/screenshots.ts
import { mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { generateOrder, type Order } from '../../src/publisher/generate-orders.js'
import { acks } from '../support/events.js'
import { startTestService, type TestService } from '../support/service.js'
import { DESKTOP, PHONE, launchChromium, ordersFrom, publishOrders, waitForState } from './browser.js'

const OUT_DIR = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))
const SEED = 2024
const ORDER_COUNT = 24

const VIEWPORTS = [
  { name: 'desktop', size: DESKTOP },
  { name: 'phone', size: PHONE },
] as const

async function main(): Promise<void> {
  await mkdir(OUT_DIR, { recursive: true })
  const [svc, browser] = await Promise.all([startTestService(), launchChromium()])
  try {
    const orders = ordersFrom(SEED, 0, ORDER_COUNT)
    await publishOrders(svc, orders)
    await publishRejects(svc, orders[0] as Order)
    // The one shown: a recent order with several items, so the table has something to show.
    const shown = [...orders].reverse().find((order) => order.items.length === 3) ?? (orders.at(-1) as Order)
    for (const { name, size } of VIEWPORTS) {
      await photograph(browser, svc, size, `/?id=${shown.order_uid}`, 'status', 'found', `lookup-${name}.png`)
      await photograph(browser, svc, size, '/?view=dead-letters', 'dead-letters-status', 'idle', `dead-letters-${name}.png`)
    }
  } finally {
    await browser.close()
    await svc.stop()
  }
}

/** The kinds of rejects a service meets: not JSON, broken schema, not UTF-8, and a conflicting re-send. */
async function publishRejects(svc: TestService, stored: Order): Promise<void> {
  const schemaBreak = generateOrder(SEED, ORDER_COUNT) as unknown as { items: Record<string, unknown>[]; payment: Record<string, unknown> }
  ;(schemaBreak.items[0] as Record<string, unknown>).price = '1 817,00'
  schemaBreak.payment.currency = 'usd'
  const conflict = { ...stored, track_number: 'WBILMTESTTRACK' }
  const rejects: (string | Uint8Array)[] = [
    'order #1817 shipped, see attached',
    JSON.stringify(schemaBreak),
    Uint8Array.from([0x7b, 0x22, 0x6e, 0x61, 0x6d, 0x65, 0x22, 0x3a, 0x22, 0xd0, 0x22, 0x7d]),
    JSON.stringify(conflict),
  ]
  // One at a time: the list then reads in the order they were sent.
  const acked = acks(svc.service.events, rejects.length)
  for (const payload of rejects) await svc.publish([payload])
  await acked
  const ids = (await svc.db.sql<{ id: string }[]>`select id::text as id from dead_letters order by id`).map((row) => row.id)
  // Replay the first one, so the picture also shows a replay's outcome.
  await fetch(new URL(`/dead-letters/${ids[0]}/replay`, svc.url), { method: 'POST' })
}

async function photograph(
  browser: Browser,
  svc: TestService,
  viewport: { width: number; height: number },
  path: string,
  statusTestId: string,
  state: string,
  file: string,
): Promise<void> {
  const context = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-US', colorScheme: 'light' })
  try {
    const page = await context.newPage()
    await page.goto(new URL(path, svc.url).href)
    await waitForState(page, statusTestId, state)
    await waitForState(page, 'recent-status', 'idle')
    // The whole page, cut at two screens: enough to show the layout without a picture taller than the README.
    const height = Math.min(await page.evaluate<number>('document.documentElement.scrollHeight'), viewport.height * 2)
    await page.screenshot({ path: `${OUT_DIR}${file}`, fullPage: true, clip: { x: 0, y: 0, width: viewport.width, height } })
    process.stdout.write(`wrote docs/screenshots/${file}\n`)
  } finally {
    await context.close()
  }
}

await main()
