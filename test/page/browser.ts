import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import { generateOrder, type Order } from '../../src/publisher/generate-orders.js'
import { acks } from '../support/events.js'
import type { TestService } from '../support/service.js'

/** Debian's Chromium (CI installs it with apt-get); playwright-core brings no browser of its own. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** Quiet, offline, reproducible: nothing but the page under test talks to the network. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}

export const DESKTOP = { width: 1280, height: 900 } as const
export const PHONE = { width: 390, height: 844 } as const

export interface PageSession {
  page: Page
  context: BrowserContext
  /** Declares that this test expects the server to answer `status` (404, 401, 403): Chromium logs those as console errors. */
  expectFailedResponse(status: 401 | 403 | 404): void
  /** Declares an expected network failure Chromium logs, e.g. 'net::ERR_CONNECTION_REFUSED'. */
  expectNetworkError(code: string): void
  /** Console errors and uncaught page errors, less the ones declared as expected. */
  unexpectedErrors(): string[]
  close(): Promise<void>
}

/** A fresh context (no storage, no cache) per test, in UTC and en-US so dates render the same everywhere. */
export async function openPage(browser: Browser, viewport: { width: number; height: number } = DESKTOP): Promise<PageSession> {
  const context = await browser.newContext({ viewport, timezoneId: 'UTC', locale: 'en-US' })
  // Waits are on DOM states; a state that never comes should fail well inside vitest's test timeout.
  context.setDefaultTimeout(8_000)
  const page = await context.newPage()
  const errors: string[] = []
  const expected: RegExp[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  return {
    page,
    context,
    expectFailedResponse(status) {
      expected.push(new RegExp(`^Failed to load resource: the server responded with a status of ${status} `))
    },
    expectNetworkError(code) {
      expected.push(new RegExp(`^Failed to load resource: ${code.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`))
    },
    unexpectedErrors: () => errors.filter((line) => !expected.some((pattern) => pattern.test(line))),
    close: () => context.close(),
  }
}

/** Waits until the element with this test id carries data-state="<state>" (the page's status lines do). */
export async function waitForState(page: Page, testid: string, state: string): Promise<void> {
  await page.waitForSelector(`[data-testid="${testid}"][data-state="${state}"]`, { state: 'attached' })
}

/** Types the id into the lookup field and presses Enter, as a person would. */
export async function lookUp(page: Page, id: string): Promise<void> {
  const input = page.getByTestId('order-id-input')
  await input.fill(id)
  await input.press('Enter')
}

export const textOf = async (page: Page, testid: string): Promise<string> => (await page.getByTestId(testid).first().textContent()) ?? ''

/** Publishes orders on the channel and waits until the service has acked each: acked after the commit and the cache, so served by id. */
export async function publishOrders(svc: TestService, orders: readonly Order[]): Promise<void> {
  const acked = acks(svc.service.events, orders.length)
  await svc.publish(orders.map((order) => JSON.stringify(order)))
  await acked
}

/** Generated orders with their realistic values, `count` of them from `first`. */
export const ordersFrom = (seed: number, first: number, count: number): Order[] =>
  Array.from({ length: count }, (_, offset) => generateOrder(seed, first + offset))

/**
 * Holds the page's first answer from `pathname` (taken from the server at once, handed to the page on release()),
 * so a test can act while the page is still loading. Later requests to it pass straight through.
 */
export async function holdFirstAnswer(page: Page, pathname: string): Promise<{ taken: Promise<void>; release: () => void }> {
  let release!: () => void
  const released = new Promise<void>((resolve) => (release = resolve))
  let taken!: () => void
  const answerTaken = new Promise<void>((resolve) => (taken = resolve))
  let requests = 0
  await page.route(
    (url) => url.pathname === pathname,
    async (route) => {
      if (++requests > 1) return route.continue()
      const response = await route.fetch()
      taken()
      await released
      return route.fulfill({ response })
    },
  )
  return { taken: answerTaken, release }
}
