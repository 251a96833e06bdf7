import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CONTENT_SECURITY_POLICY } from '../../src/http/middleware/security-headers.js'
import { defaultStaticDir } from '../../src/http/routes/static.js'
import { startTestDatabase, type TestDatabase } from '../support/postgres.js'
import { buildApp, SECURITY_HEADER_NAMES } from './harness.js'

let db: TestDatabase
let root: string
let staticDir: string

beforeAll(async () => {
  db = await startTestDatabase()
  // static/ beside a secret, with a symlink pointing out of it, a dotfile and a file of unknown type.
  root = mkdtempSync(join(tmpdir(), 'order-service-static-'))
  staticDir = join(root, 'static')
  mkdirSync(join(staticDir, 'js'), { recursive: true })
  writeFileSync(join(root, 'secret.txt'), 'SECRET')
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>orders</title>')
  writeFileSync(join(staticDir, 'app.js'), 'console.log(1)')
  writeFileSync(join(staticDir, 'app.css'), 'body{}')
  writeFileSync(join(staticDir, 'js', 'api.js'), 'export {}')
  writeFileSync(join(staticDir, '.env'), 'SECRET')
  writeFileSync(join(staticDir, 'notes.exe'), 'SECRET')
  symlinkSync(join(root, 'secret.txt'), join(staticDir, 'leak.txt'))
})
afterAll(async () => {
  rmSync(root, { recursive: true, force: true })
  await db?.stop()
})

const app = () => buildApp(db, { staticDir }).app

describe('static files', () => {
  it.each([
    ['/', 'text/html; charset=utf-8', '<!doctype html><title>orders</title>'],
    ['/index.html', 'text/html; charset=utf-8', '<!doctype html><title>orders</title>'],
    ['/app.js', 'text/javascript; charset=utf-8', 'console.log(1)'],
    ['/app.css', 'text/css; charset=utf-8', 'body{}'],
    ['/js/api.js', 'text/javascript; charset=utf-8', 'export {}'],
  ])('Should serve %s with its content type and the security headers', async (path, type, body) => {
    const res = await app().request(path)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(type)
    expect(await res.text()).toBe(body)
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY)
    for (const name of SECURITY_HEADER_NAMES) expect(res.headers.get(name)).toBeTruthy()
  })

  it('When the file is unchanged (If-None-Match), then 304', async () => {
    const first = await app().request('/app.js')
    const again = await app().request('/app.js', { headers: { 'if-none-match': first.headers.get('etag')! } })
    expect(again.status).toBe(304)
  })

  it.each([
    '/..%2f..%2fpackage.json',
    '/%2e%2e/secret.txt',
    '/%2e%2e%2fsecret.txt',
    '/static/../src/main.ts',
    '/../secret.txt',
    '/js/..%2f..%2fsecret.txt',
    '/app.js%00',
    '/app%2ejs',
    '/.env',
    '/notes.exe',
    '/leak.txt',
    '/js',
    '/js/',
    '/package.json',
  ])('When the path is %s, then nothing outside the served files is reached: 404', async (path) => {
    const res = await app().request(path)
    expect(res.status).toBe(404)
    expect(await res.text()).not.toContain('SECRET')
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY)
  })

  it('Should serve the repository page from the top-level static/ folder', async () => {
    const res = await buildApp(db, { staticDir: defaultStaticDir }).app.request('/')
    expect(res.status).toBe(200)
    expect(await res.text()).toBe(readFileSync(join(defaultStaticDir, 'index.html'), 'utf8'))
  })
})
