import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { generateOrder, type Order } from '../../src/publisher/generate-orders.js'
import { startTestService } from '../support/service.js'
import { PHONE, holdFirstAnswer, lookUp, ordersFrom, publishOrders, textOf, waitForState } from './browser.js'
import { useBrowserTest } from './hooks.js'

/** The lookup page in Chromium against the whole service (embedded PostgreSQL and broker). */
const seed = 41
const ui = useBrowserTest(() => startTestService())
let page: Page
beforeEach(() => {
  page = ui.page
})

const open = async (query = ''): Promise<void> => {
  await page.goto(new URL(`/${query}`, ui.svc.url).href)
}

/** Every value of the order the page promises to show, read back from the DOM. */
async function expectOrderShown(order: Order): Promise<void> {
  const currency = order.payment.currency
  const money = (amount: number) => `${amount} ${currency}`
  expect(await textOf(page, 'order-uid')).toBe(order.order_uid)
  expect(await textOf(page, 'track-number')).toBe(order.track_number)
  expect(await textOf(page, 'customer-id')).toBe(order.customer_id)
  expect(await textOf(page, 'delivery-service')).toBe(order.delivery_service)
  expect(await textOf(page, 'locale')).toBe(order.locale)
  expect(await page.getByTestId('date-created').getAttribute('datetime')).toBe(new Date(order.date_created).toISOString())
  expect(await textOf(page, 'delivery-name')).toBe(order.delivery.name)
  expect(await textOf(page, 'delivery-city')).toBe(order.delivery.city)
  expect(await textOf(page, 'delivery-email')).toBe(order.delivery.email)
  expect(await textOf(page, 'payment-amount')).toBe(money(order.payment.amount))
  expect(await textOf(page, 'payment-delivery-cost')).toBe(money(order.payment.delivery_cost))
  expect(await page.getByTestId('payment-dt').getAttribute('datetime')).toBe(new Date(order.payment.payment_dt * 1000).toISOString())

  const rows = page.getByTestId('item-row')
  expect(await rows.count()).toBe(order.items.length)
  for (const [index, item] of order.items.entries()) {
    const row = rows.nth(index)
    expect(await row.locator('.item-name').textContent()).toBe(item.name)
    expect(await row.getByTestId('item-brand').textContent()).toBe(item.brand)
    expect(await row.getByTestId('item-size').textContent()).toBe(item.size)
    expect(await row.getByTestId('item-price').textContent()).toBe(money(item.price))
    expect(await row.getByTestId('item-sale').textContent()).toBe(`${item.sale}%`)
    expect(await row.getByTestId('item-total').textContent()).toBe(money(item.total_price))
    expect(await row.getByTestId('item-status').textContent()).toBe(String(item.status))
  }
  expect(await textOf(page, 'totals-items')).toBe(money(order.items.reduce((sum, item) => sum + item.total_price, 0)))
  expect(await textOf(page, 'totals-goods')).toBe(money(order.payment.goods_total))
  expect(await textOf(page, 'totals-amount')).toBe(money(order.payment.amount))
}

/** Requests the page sends for orders, to prove some lookups never leave the browser. */
function orderRequests(): string[] {
  const seen: string[] = []
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/order/')) seen.push(request.url())
  })
  return seen
}

describe('Order lookup page', () => {
  it('When an order is published and its id is typed with Enter, then the whole order is laid out', async () => {
    const [order] = ordersFrom(seed, 0, 1) as [Order]
    await publishOrders(ui.svc, [order])
    await open()
    await lookUp(page, order.order_uid)
    await waitForState(page, 'status', 'found')
    await expectOrderShown(order)
    expect(new URL(page.url()).searchParams.get('id')).toBe(order.order_uid)
  })

  it('When the page is opened or reloaded with ?id=, then that order is shown', async () => {
    const [order] = ordersFrom(seed, 1, 1) as [Order]
    await publishOrders(ui.svc, [order])
    await open(`?id=${order.order_uid}`)
    await waitForState(page, 'status', 'found')
    expect(await textOf(page, 'order-uid')).toBe(order.order_uid)

    await page.reload()
    await waitForState(page, 'status', 'found')
    await expectOrderShown(order)
    expect(await page.getByTestId('order-id-input').inputValue()).toBe(order.order_uid)
  })

  it('When the id is unknown, then the page says not found and names the id', async () => {
    ui.session.expectFailedResponse(404)
    await open()
    await lookUp(page, 'no-such-order-42')
    await waitForState(page, 'status', 'not-found')
    expect(await textOf(page, 'status')).toContain('no-such-order-42')
    expect(await page.getByTestId('order').count()).toBe(0)
  })

  it('When the id breaks the id rule, then the page says invalid without asking the server', async () => {
    const requests = orderRequests()
    await open()
    for (const bad of ['bad id!', '../etc/passwd', 'x'.repeat(65), 'ид']) {
      await lookUp(page, bad)
      await waitForState(page, 'status', 'invalid')
      expect(await textOf(page, 'status')).toContain(bad)
      expect(await page.getByTestId('order-id-input').getAttribute('aria-invalid')).toBe('true')
    }
    expect(requests).toEqual([])
  })

  it('When one lookup follows another, then nothing of the previous order stays on screen', async () => {
    ui.session.expectFailedResponse(404)
    const [first, second] = ordersFrom(seed, 2, 2) as [Order, Order]
    await publishOrders(ui.svc, [first, second])
    await open()
    await lookUp(page, first.order_uid)
    await waitForState(page, 'status', 'found')

    await lookUp(page, 'missing-order')
    await waitForState(page, 'status', 'not-found')
    expect(await page.getByTestId('order-result').textContent()).toBe('')

    await lookUp(page, second.order_uid)
    await waitForState(page, 'status', 'found')
    expect(await page.getByTestId('order').count()).toBe(1)
    await expectOrderShown(second)
    const shown = (await page.getByTestId('order-result').textContent()) ?? ''
    expect(shown).not.toContain(first.order_uid)

    await lookUp(page, 'not valid!')
    await waitForState(page, 'status', 'invalid')
    expect(await page.getByTestId('order-result').textContent()).toBe('')
  })

  it('When fields hold markup, then it is shown as text and nothing runs', async () => {
    const script = '<script>window.__pwned=1</script>'
    const image = '<img src=x onerror="window.__pwned=1">'
    const order = generateOrder(seed, 10)
    order.delivery.name = script
    order.delivery.address = image
    order.customer_id = image
    for (const item of order.items) {
      item.name = image
      item.brand = script
    }
    await publishOrders(ui.svc, [order])
    await open()
    await lookUp(page, order.order_uid)
    await waitForState(page, 'status', 'found')

    expect(await textOf(page, 'delivery-name')).toBe(script)
    expect(await textOf(page, 'delivery-address')).toBe(image)
    expect(await textOf(page, 'customer-id')).toBe(image)
    expect(await page.locator('[data-testid="item-row"] .item-name').first().textContent()).toBe(image)
    expect(await page.getByTestId('item-brand').first().textContent()).toBe(script)
    const result = page.getByTestId('order-result')
    expect(await result.locator('img, script').count()).toBe(0)
    expect(await page.evaluate('typeof window.__pwned')).toBe('undefined')
  })

  it('When Raw JSON is opened, then it shows the stored order as JSON', async () => {
    const order = generateOrder(seed, 11)
    await publishOrders(ui.svc, [order])
    await open(`?id=${order.order_uid}`)
    await waitForState(page, 'status', 'found')
    const raw = page.getByTestId('raw-json')
    expect(await raw.isVisible()).toBe(false)
    await page.getByTestId('raw-json-toggle').click()
    await raw.waitFor({ state: 'visible' })
    expect(JSON.parse((await raw.textContent()) ?? '')).toEqual(order)
  })

  it('When orders arrive, then the newest are listed first and a click looks one up', async () => {
    // Enough orders that arrival numbers pass from one digit to two: newest-first must be numeric, not textual.
    const orders = ordersFrom(seed, 20, 11)
    // One publisher connection keeps its order on the channel, so arrival order (what "newest" means) is this order.
    await publishOrders(ui.svc, orders)
    await open()
    await waitForState(page, 'recent-status', 'idle')
    // The local operator (loopback, no proxy, no ADMIN_TOKEN) is the admin: the list is shown.
    expect(await page.getByTestId('recent-list').isVisible()).toBe(true)
    const listed = await page.getByTestId('recent-link').allTextContents()
    expect(listed.slice(0, orders.length)).toEqual(orders.map((order) => order.order_uid).reverse())

    const picked = orders[4] as Order
    await page.locator(`[data-testid="recent-link"][data-order-id="${picked.order_uid}"]`).click()
    await waitForState(page, 'status', 'found')
    expect(await textOf(page, 'order-uid')).toBe(picked.order_uid)
    expect(new URL(page.url()).searchParams.get('id')).toBe(picked.order_uid)
  })

  it('When the page is not the local operator\'s (it comes through a proxy) and no token is set, then the newest orders are hidden and lookup by id still works', async () => {
    const order = generateOrder(seed, 60)
    await publishOrders(ui.svc, [order])
    ui.session.expectFailedResponse(403)
    // A proxy on this machine says whom it connects for: the service then no longer sees the local operator.
    await page.route((url) => url.pathname === '/orders', (route) => route.continue({ headers: { ...route.request().headers(), 'x-forwarded-for': '203.0.113.9' } }))
    await open()
    await waitForState(page, 'recent-status', 'forbidden')
    expect(await page.getByTestId('recent-list').isVisible()).toBe(false)
    expect(await page.getByTestId('recent-item').count()).toBe(0)
    expect(await page.getByTestId('recent-refresh').isVisible()).toBe(false)
    expect(await textOf(page, 'recent-status')).toMatch(/only to the operator on this machine/)

    await lookUp(page, order.order_uid)
    await waitForState(page, 'status', 'found')
    expect(await textOf(page, 'order-uid')).toBe(order.order_uid)
  })

  it('When Refresh is clicked while the newest orders load, then they load again after and show what arrived meanwhile', async () => {
    const [earlier, later] = ordersFrom(seed, 33, 2) as [Order, Order]
    await publishOrders(ui.svc, [earlier])
    const held = await holdFirstAnswer(page, '/orders')
    await open()
    await held.taken
    await publishOrders(ui.svc, [later])

    await page.getByTestId('recent-refresh').click()
    held.release()
    const link = (order: Order) => page.locator(`[data-testid="recent-link"][data-order-id="${order.order_uid}"]`)
    await link(later).waitFor({ state: 'visible' })
    await waitForState(page, 'recent-status', 'idle')
    expect(await link(earlier).count()).toBe(1)
    expect(await page.getByTestId('recent-link').first().textContent()).toBe(later.order_uid)
  })

  it('When only the keyboard is used (Tab to the field, type, Enter), then the order is found', async () => {
    const order = generateOrder(seed, 30)
    await publishOrders(ui.svc, [order])
    await open()
    const fieldFocused = async () => (await page.locator('#order-id:focus').count()) === 1
    // Skip link and the two view tabs come first; the field is a few Tabs away, not a mouse click.
    for (let presses = 0; presses < 6 && !(await fieldFocused()); presses++) await page.keyboard.press('Tab')
    expect(await fieldFocused()).toBe(true)
    await page.keyboard.type(order.order_uid)
    await page.keyboard.press('Enter')
    await waitForState(page, 'status', 'found')
    expect(await textOf(page, 'order-uid')).toBe(order.order_uid)
  })

  it('When the screen is phone-sized, then an order and the dead-letter view fit without sideways scrolling', async () => {
    page = await ui.reopen(PHONE)
    const order = generateOrder(seed, 31)
    order.items = ordersFrom(seed, 32, 4).flatMap((other) => other.items).slice(0, 6)
    await publishOrders(ui.svc, [order])
    const overflow = () => page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth')

    await open(`?id=${order.order_uid}`)
    await waitForState(page, 'status', 'found')
    await page.getByTestId('raw-json-toggle').click()
    expect(await overflow()).toBeLessThanOrEqual(0)

    await page.getByTestId('tab-dead-letters').click()
    await page.getByTestId('dead-letters-view').waitFor({ state: 'visible' })
    await page.waitForSelector('[data-testid="dead-letters-status"]:is([data-state="idle"], [data-state="empty"])', { state: 'attached' })
    expect(await overflow()).toBeLessThanOrEqual(0)
  })

  it('When every test id is renamed, then the page still looks orders up and shows both views', async () => {
    // Test ids belong to the tests: the page's own code must find its parts some other way (ids, roles).
    await page.route(
      (url) => url.origin === new URL(ui.svc.url).origin && !url.pathname.startsWith('/order'),
      async (route) => {
        const response = await route.fetch()
        const type = response.headers()['content-type'] ?? ''
        if (!/html|javascript/.test(type)) return route.fulfill({ response })
        const body = (await response.text()).replaceAll('data-testid', 'data-renamed-testid')
        return route.fulfill({ response, body })
      },
    )
    const order = generateOrder(seed, 35)
    await publishOrders(ui.svc, [order])
    await open()
    expect(await page.locator('[data-testid]').count()).toBe(0)
    await page.getByLabel('Order id').fill(order.order_uid)
    await page.getByRole('button', { name: 'Look up' }).click()
    await page.locator('#lookup-status[data-state="found"]').waitFor({ state: 'attached' })
    expect(await page.locator('#order-title').textContent()).toBe(`Order ${order.order_uid}`)
    await page.locator('#recent-list a', { hasText: order.order_uid }).waitFor()

    await page.getByRole('link', { name: 'Dead letters' }).click()
    await page.locator('#dead-letters-status:is([data-state="idle"], [data-state="empty"])').waitFor({ state: 'attached' })
  })

  // Last on purpose only for speed: restart moves the service to a new port, so the open page points at a closed one.
  it('When the server cannot be reached, then the page shows an error state and no order', async () => {
    ui.session.expectNetworkError('net::ERR_CONNECTION_REFUSED')
    const order = generateOrder(seed, 40)
    await publishOrders(ui.svc, [order])
    await open()
    await waitForState(page, 'recent-status', 'idle')
    const before = ui.svc.url
    await ui.svc.restart()
    expect(ui.svc.url).not.toBe(before)

    await lookUp(page, order.order_uid)
    await waitForState(page, 'status', 'error')
    expect(await textOf(page, 'status')).toMatch(/cannot reach the server/i)
    expect(await page.getByTestId('order-result').textContent()).toBe('')
  })
})
