/**
 * Read ceiling: wrk against a bare node:http server (its own process) answering every request with one
 * prebuilt order, over the same random /order/<id> paths the service is asked for.
 */
import { startBareServer } from './lib/bare-server.js'
import type { Cleanup } from './lib/cleanup.js'
import { readRssBytes } from './lib/rss.js'
import { runWrk, type LoadResult } from './lib/wrk.js'

export interface BareReadResult {
  load: LoadResult
  /** Resident memory of the bare server after the load: what an almost empty Node HTTP process costs. */
  rssBytes: number
}

export async function measureBareRead(
  cleanup: Cleanup,
  options: { body: string; ids: readonly string[]; seconds: number; warmupSeconds: number },
): Promise<BareReadResult> {
  const server = await startBareServer(cleanup, options.body)
  const load = await runWrk(cleanup, {
    baseUrl: server.baseUrl,
    paths: options.ids.map((id) => `/order/${id}`),
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
  })
  if (load.non2xx > 0 || load.socketErrors > 0) throw new Error(`bare server: ${load.non2xx} error statuses, ${load.socketErrors} socket errors`)
  return { load, rssBytes: await readRssBytes(server.pid) }
}
