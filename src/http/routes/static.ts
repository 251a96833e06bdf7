import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { extname, join, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Handler } from 'hono'
import { errorResponse } from '../errors.js'
import { ifNoneMatchHits } from '../etag.js'
import { requestHeader, type AppEnv } from '../node-request.js'

/** The repository's static/ folder, found from this file both in src/ (tsx, vitest) and in dist/src/ (built). */
export const defaultStaticDir = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../../static/' : '../../../static/', import.meta.url))

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
}

/** Path segments a static file may have: also keeps Hono's route syntax (`:`, `*`, `{`) out of the routes. */
const SAFE_SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/

/** A request path that was percent-encoded to smuggle a separator, a dot or NUL. */
const ENCODED_TRICK = /%(2e|2f|5c|00)/i

export interface StaticFile {
  body: Uint8Array<ArrayBuffer>
  contentType: string
  etag: string
}

/**
 * Reads static/ once at start-up into a map of URL path → file: only regular files inside the folder
 * (symlinks are resolved and must stay inside), with a known content type and plain names, no dotfiles.
 * A request can then only ever name one of these entries: there is no path to resolve at request time,
 * so no traversal, and no directory listing. "/" is index.html.
 */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const root = realpathSync(dir)
  const files = new Map<string, StaticFile>()
  const visit = (folder: string, segments: string[]): void => {
    for (const name of readdirSync(folder)) {
      if (!SAFE_SEGMENT.test(name)) continue
      const real = realpathSync(join(folder, name))
      if (real !== root && !real.startsWith(root + sep)) continue
      const stat = statSync(real)
      if (stat.isDirectory()) {
        visit(join(folder, name), [...segments, name])
        continue
      }
      const contentType = CONTENT_TYPES[extname(name).toLowerCase()]
      if (!stat.isFile() || contentType === undefined) continue
      const body = new Uint8Array(readFileSync(real))
      const etag = `"${createHash('sha1').update(body).digest('base64url')}"`
      files.set(`/${[...segments, name].join('/')}`, { body, contentType, etag })
    }
  }
  visit(root, [])
  const index = files.get('/index.html')
  if (index !== undefined) files.set('/', index)
  return files
}

/** Serves one preloaded file; revalidated on each use (names are not content-hashed), 304 when unchanged. */
export function staticRoute(file: StaticFile): Handler<AppEnv> {
  return (c) => {
    if (ENCODED_TRICK.test(c.req.url)) return errorResponse(404, 'not_found', 'Not found')
    const headers = { etag: file.etag, 'cache-control': 'no-cache' }
    if (ifNoneMatchHits(requestHeader(c, 'if-none-match'), file.etag)) return c.body(null, 304, headers)
    return c.body(file.body, 200, { ...headers, 'content-type': file.contentType })
  }
}
