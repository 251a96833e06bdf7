import { readFileSync } from 'node:fs'
import { Validator } from '@seriousme/openapi-schema-validator'
import { describe, expect, it } from 'vitest'
import { openApiText } from '../../src/http/openapi.js'
import type { Redrives } from '../../src/http/routes/redrive.js'
import { defaultStaticDir, loadStaticFiles } from '../../src/http/routes/static.js'
import { testDatabaseForFile } from '../support/shared-by-tests.js'
import { checkAnswer } from './contract.js'
import { buildApp, fromAddress, SECURITY_HEADER_NAMES } from './harness.js'

const db = testDatabaseForFile()

const STORED_COPY = new URL('../../docs/openapi.json', import.meta.url)

/** Re-drives are not asked here: the routes only need to be mounted. */
const redrives: Redrives = {
  dryRun: () => Promise.reject(new Error('not asked')),
  start: () => Promise.reject(new Error('not asked')),
  state: () => Promise.resolve(undefined),
}

describe('GET /openapi.json', () => {
  it('When the document is asked, then it is the OpenAPI 3.1 document kept in docs/openapi.json, with the security headers', async () => {
    const res = await buildApp(db).app.request('/openapi.json', {}, fromAddress('203.0.113.9'))
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    for (const name of SECURITY_HEADER_NAMES) expect(res.headers.get(name), name).not.toBeNull()
    // Regenerate the copy after changing a route: node --import tsx -e "import('./src/http/openapi.ts').then((m) => process.stdout.write(m.openApiText()))" > docs/openapi.json
    expect(await res.text()).toBe(readFileSync(STORED_COPY, 'utf8'))
  })

  it('When the document is checked by an OpenAPI validator, then it is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator()
    const result = await validator.validate(JSON.parse(openApiText()))
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
  })

  it('When the app mounts its routes, then each one is in the document and the document names no other', async () => {
    const { app } = buildApp(db, { redrives })
    // The page's other files are described with it, under GET /.
    const staticFiles = loadStaticFiles(defaultStaticDir)
    const document = JSON.parse(openApiText()) as { paths: Record<string, object> }
    const described = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    const mounted = app.routes
      .filter((route) => route.method !== 'ALL' && (route.path === '/' || !staticFiles.has(route.path)))
      .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, '{$1}').replace('/order/*', '/order/{id}')}`)
    expect(new Set(mounted)).toEqual(new Set(described))
  })
})

describe('the answers checked against the document', () => {
  it('When an answer has a field the document does not describe, then the check fails', () => {
    expect(() => checkAnswer('GET', '/healthz', 200, 'application/json', '{"status":"ok","extra":1}')).toThrow(/does not match/)
    expect(() => checkAnswer('GET', '/healthz', 200, 'application/json', '{"status":"ok"}')).not.toThrow()
  })

  it('When an answer has a status or a content type the document does not list, then the check fails', () => {
    expect(() => checkAnswer('GET', '/healthz', 404, 'application/json', '{"error":{"code":"not_found","message":"x"}}')).toThrow(/no such answer/)
    expect(() => checkAnswer('GET', '/dead-letters/1', 200, 'text/html', '<p>')).toThrow(/content type/)
    expect(() => checkAnswer('GET', '/no-route', 404, 'application/json', '{"error":{"code":"lost","message":"x"}}')).toThrow(/does not match/)
  })

  it('When a route answers outside the document, then the harness app refuses the answer', async () => {
    const { app } = buildApp(db, { readiness: () => ({ database: true, subscription: true, cache: true, extra: true }) })
    await expect(Promise.resolve(app.request('/readyz'))).rejects.toThrow(/GET \/readyz → 200: the body does not match/)
  })
})
