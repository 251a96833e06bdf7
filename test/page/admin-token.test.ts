import type { Page } from 'playwright-core'
import { beforeEach, describe, expect, it } from 'vitest'
import { acks } from '../support/events.js'
import { startTestService, type TestService } from '../support/service.js'
import { ordersFrom, publishOrders, waitForState } from './browser.js'
import { useBrowserTest } from './hooks.js'

/** The dead-letter view against a service started with ADMIN_TOKEN: the page must ask for it. */
const token = 'x'.repeat(24)
/** An order the newest-orders list shows once the token is given. */
const [order] = ordersFrom(7, 1, 1)

/** With one dead letter and one order stored, so the views have something to list once the token is given. */
async function startWithDeadLetter(): Promise<TestService> {
  const svc = await startTestService({ ADMIN_TOKEN: token })
  try {
    const acked = acks(svc.service.events, 1)
    await svc.publish(['{"truncated": '])
    await acked
    await publishOrders(svc, [order!])
    return svc
  } catch (error) {
    await svc.stop()
    throw error
  }
}

const ui = useBrowserTest(startWithDeadLetter)
let page: Page
beforeEach(() => {
  page = ui.page
})

const submitToken = async (value: string): Promise<void> => {
  await page.getByTestId('token-input').fill(value)
  await page.getByTestId('token-input').press('Enter')
}

describe('Dead-letter view with ADMIN_TOKEN', () => {
  it('When the server requires a token, then the view asks for it, refuses a wrong one and lists with the right one', async () => {
    ui.session.expectFailedResponse(401)
    await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
    await waitForState(page, 'dead-letters-status', 'error')
    const form = page.getByTestId('token-form')
    expect(await form.isVisible()).toBe(true)
    expect(await page.getByTestId('dead-letter-row').count()).toBe(0)
    // The field has focus, so a keyboard user can type straight away.
    expect(await page.locator('#admin-token:focus').count()).toBe(1)

    await submitToken('wrong-token-wrong-token!')
    await waitForState(page, 'dead-letters-status', 'error')
    await form.waitFor({ state: 'visible' })
    expect(await page.getByTestId('token-why').textContent()).toMatch(/did not accept/)
    expect(await page.getByTestId('dead-letter-row').count()).toBe(0)

    await submitToken(token)
    await waitForState(page, 'dead-letters-status', 'idle')
    expect(await page.getByTestId('dead-letter-reason').first().textContent()).toBe('not_json')
    expect(await form.isVisible()).toBe(false)

    // Kept for the session (this tab), so a reload lists straight away; Forget drops it.
    await page.reload()
    await waitForState(page, 'dead-letters-status', 'idle')
    expect(await page.getByTestId('dead-letter-row').count()).toBeGreaterThan(0)
    await page.getByTestId('token-forget').click()
    expect(await page.evaluate('sessionStorage.length')).toBe(0)
  })

  it('When a new browser session opens the view, then the token is asked for again', async () => {
    ui.session.expectFailedResponse(401)
    await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
    await waitForState(page, 'dead-letters-status', 'error')
    expect(await page.getByTestId('token-form').isVisible()).toBe(true)
  })

  // Privacy modes and sandboxed frames block sessionStorage (reading it throws), or let it be read but refuse writes.
  it.each([
    ['reading sessionStorage throws', `Object.defineProperty(window, 'sessionStorage', { configurable: true, get() { throw new DOMException('blocked', 'SecurityError') } })`],
    ['sessionStorage refuses writes', `Storage.prototype.setItem = function () { throw new DOMException('full', 'QuotaExceededError') }`],
  ])('When %s, then the token is kept in memory for the page and sent', async (_, blockStorage) => {
    ui.session.expectFailedResponse(401)
    await page.addInitScript(blockStorage)
    await page.goto(new URL('/?view=dead-letters', ui.svc.url).href)
    await waitForState(page, 'dead-letters-status', 'error')

    await submitToken(token)
    await waitForState(page, 'dead-letters-status', 'idle')
    expect(await page.getByTestId('dead-letter-row').count()).toBeGreaterThan(0)
    expect(await page.getByTestId('token-forget').isVisible()).toBe(true)
  })

  it('When the server requires a token, then the newest orders are hidden until it is entered, listed with it, and hidden again when it is forgotten', async () => {
    ui.session.expectFailedResponse(401)
    await page.goto(new URL('/', ui.svc.url).href)
    await waitForState(page, 'recent-status', 'forbidden')
    expect(await page.getByTestId('recent-list').isVisible()).toBe(false)
    expect(await page.getByTestId('recent-item').count()).toBe(0)
    expect(await page.getByTestId('recent-status').textContent()).toMatch(/enter the admin token/)

    await page.getByTestId('tab-dead-letters').click()
    await waitForState(page, 'dead-letters-status', 'error')
    await submitToken(token)
    await waitForState(page, 'dead-letters-status', 'idle')
    await page.getByTestId('tab-lookup').click()
    await waitForState(page, 'recent-status', 'idle')
    expect(await page.getByTestId('recent-list').isVisible()).toBe(true)
    expect(await page.getByTestId('recent-link').allTextContents()).toEqual([order!.order_uid])

    // A reload keeps the token for the tab, and the list with it.
    await page.reload()
    await waitForState(page, 'recent-status', 'idle')
    expect(await page.getByTestId('recent-link').count()).toBe(1)

    await page.getByTestId('tab-dead-letters').click()
    await page.getByTestId('token-forget').click()
    await page.getByTestId('tab-lookup').click()
    await waitForState(page, 'recent-status', 'forbidden')
    expect(await page.getByTestId('recent-item').count()).toBe(0)
  })
})
