/**
 * The service's read path under the same load as the bare server (bench/lib/bare-server.ts): wrk, 50 connections,
 * random /order/<id> paths. The service's own metrics say how the requests were answered (status, and cache
 * hit, read-through or absent), so a rate is never reported for answers other than the ones it claims to be.
 */
import type { Cleanup } from '../test/support/cleanup.js'
import { sampleSum } from '../test/support/prometheus-text.js'
import type { RunningService } from './lib/service.js'
import { runWrk, type LoadResult } from './lib/wrk.js'

export interface ServiceReadResult {
  load: LoadResult
  /** Responses of GET /order/:id during the run (warm-up included), by status. */
  statuses: Record<string, number>
  /** Cache lookups during the run, by result: hit, miss (read through to PostgreSQL), absent. */
  lookups: Record<'hit' | 'miss' | 'absent', number>
}

export async function measureServiceRead(
  cleanup: Cleanup,
  service: RunningService,
  options: { ids: readonly string[]; seconds: number; warmupSeconds: number },
): Promise<ServiceReadResult> {
  const before = await service.metrics()
  const load = await runWrk(cleanup, {
    baseUrl: service.baseUrl,
    paths: options.ids.map((id) => `/order/${id}`),
    seconds: options.seconds,
    warmupSeconds: options.warmupSeconds,
    serverPid: service.pid,
  })
  const after = await service.metrics()
  const delta = (name: string, labels: Record<string, string>) => sampleSum(after, name, labels) - sampleSum(before, name, labels)
  const statuses: Record<string, number> = {}
  for (const status of ['200', '304', '400', '404', '503']) {
    const n = delta('http_requests_total', { route: '/order/:id', status })
    if (n > 0) statuses[status] = n
  }
  const lookups = {
    hit: delta('order_cache_lookups_total', { result: 'hit' }),
    miss: delta('order_cache_lookups_total', { result: 'miss' }),
    absent: delta('order_cache_lookups_total', { result: 'absent' }),
  }
  if (load.socketErrors > 0) throw new Error(`service read: ${load.socketErrors} socket errors`)
  return { load, statuses, lookups }
}

/** "200: 99.9%, 503: 0.1%" */
export function describeStatuses(statuses: Record<string, number>): string {
  const total = Object.values(statuses).reduce((a, b) => a + b, 0)
  return Object.entries(statuses)
    .map(([status, n]) => `${status}: ${((100 * n) / total).toFixed(n === total ? 0 : 1)}%`)
    .join(', ')
}
