import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { toCachedOrder } from '../../src/cache/order-cache.js'
import { SECURITY_HEADERS } from '../../src/http/middleware/security-headers.js'
import { spawnNode } from './node-script.js'
import type { Cleanup } from '../../test/support/cleanup.js'
import { tempDir } from './temp-dir.js'

export interface BareServer {
  baseUrl: string
  pid: number
  stop(): Promise<void>
}

/**
 * Starts bare-server-process.mjs in its own process, answering every request with `body` and the headers the
 * service sends with an order (the same bytes on the wire keep the comparison fair).
 */
export async function startBareServer(cleanup: Cleanup, body: string): Promise<BareServer> {
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    etag: toCachedOrder(body).etag,
    'cache-control': 'public, max-age=31536000, immutable',
    ...SECURITY_HEADERS,
  }
  const responseFile = join(await tempDir(cleanup, 'bare'), 'response.json')
  await writeFile(responseFile, JSON.stringify({ headers, body }))
  const child = spawnNode(cleanup, { script: new URL('./bare-server-process.mjs', import.meta.url).pathname, args: [responseFile], loader: 'none' })
  const { port } = await child.firstMessage<{ port: number }>()
  return { baseUrl: `http://127.0.0.1:${port}`, pid: child.pid, stop: () => child.stop() }
}
