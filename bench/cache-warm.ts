/**
 * The ceiling of cache restore (the raw read of every stored order) and the memory the cache retains once
 * OrderCache.warm() has filled it from them; measured in a fresh child process (lib/cache-warm-process.ts) so the
 * harness's heap is neither counted nor in the way.
 */
import { spawnNode } from './lib/node-script.js'
import type { CacheWarmReport } from './lib/cache-warm-process.js'
import type { Cleanup } from '../test/support/cleanup.js'
import type { BenchDatabase } from './lib/postgres.js'

export async function measureCacheWarm(cleanup: Cleanup, db: BenchDatabase, expected: number): Promise<CacheWarmReport> {
  const child = spawnNode(cleanup, {
    script: new URL('./lib/cache-warm-process.ts', import.meta.url).pathname,
    env: { DATABASE_URL: db.url, EXPECTED_ORDERS: String(expected) },
    nodeFlags: ['--expose-gc'],
  })
  const report = await child.firstMessage<CacheWarmReport>()
  await child.stop()
  if (report.entries !== expected) throw new Error(`the cache took ${report.entries} orders, expected ${expected}`)
  return report
}
