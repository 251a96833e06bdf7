import type { Browser, Page } from 'playwright-core'
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest'
import type { TestService } from '../support/service.js'
import { launchChromium, openPage, type PageSession } from './browser.js'

/** What a browser test sees: its file's service, and its own page. */
export interface BrowserTest {
  readonly svc: TestService
  /** This test's page, in a browser context of its own. */
  readonly page: Page
  readonly session: PageSession
  /** Closes this test's page and opens a fresh one at `viewport`; it is checked and closed after the test like the first. */
  reopen(viewport: { width: number; height: number }): Promise<Page>
}

/**
 * Registers a browser test file's hooks: the service and Chromium once per file, a fresh context and page per
 * test, and after each test, no console errors but those the test declared (PageSession.expect*).
 */
export function useBrowserTest(startService: () => Promise<TestService>): BrowserTest {
  let svc: TestService | undefined
  let browser: Browser | undefined
  let session: PageSession | undefined
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started (used outside a test?)`)
    return value
  }

  beforeAll(async () => {
    ;[svc, browser] = await Promise.all([startService(), launchChromium()])
  })
  afterAll(async () => {
    await browser?.close()
    await svc?.stop()
  })
  beforeEach(async () => {
    session = await openPage(started(browser, 'Chromium'))
  })
  afterEach(async () => {
    const current = started(session, 'the page')
    const errors = current.unexpectedErrors()
    await current.close()
    expect(errors, 'console errors').toEqual([])
  })

  return {
    get svc() {
      return started(svc, 'the service')
    },
    get page() {
      return started(session, 'the page').page
    },
    get session() {
      return started(session, 'the page')
    },
    async reopen(viewport) {
      await started(session, 'the page').close()
      session = await openPage(started(browser, 'Chromium'), viewport)
      return session.page
    },
  }
}
