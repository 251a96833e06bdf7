import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/**
 * Every metric of the service, on a registry of its own (no prom-client global state), built once by the
 * composition root and passed to the parts that count.
 */
export function createMetrics(options: { processMetrics?: boolean } = {}) {
  const registry = new Registry()
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry })
  return {
    registry,
    messages: new Counter({
      name: 'order_messages_total',
      help: 'Messages in committed batches, by outcome (MessageOutcome in src/ingest/verdict.ts) and reason for dead letters.',
      labelNames: ['outcome', 'reason'] as const,
      registers: [registry],
    }),
    batchSize: new Histogram({
      name: 'order_batch_size',
      help: 'Messages per committed batch.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: [registry],
    }),
    commitSeconds: new Histogram({
      name: 'order_batch_commit_seconds',
      help: 'Time to write and commit one batch.',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    batchRetries: new Counter({
      name: 'order_batch_retries_total',
      help: 'Batch writes that failed and were retried (database unreachable or failing).',
      registers: [registry],
    }),
    databaseAbandoned: new Counter({
      name: 'order_database_abandoned_total',
      help: 'Database pools abandoned (connections destroyed, backends ended) because work on them passed its bound, by pool.',
      labelNames: ['pool'] as const,
      registers: [registry],
    }),
    redrivenLetters: new Counter({
      name: 'order_dead_letters_redriven_total',
      help: 'Dead letters a bulk re-drive put through the gate again, by outcome: stored, duplicate, rejected, truncated (RedriveOutcome in src/ingest/redrive.ts).',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'order_cache_lookups_total',
      help: 'Order lookups by result: hit (cache), miss (read through to the database), absent (no such order).',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    cacheEntries: new Gauge({ name: 'order_cache_entries', help: 'Orders held in the cache.', registers: [registry] }),
    cacheBytes: new Gauge({ name: 'order_cache_bytes', help: 'Bytes held in the cache.', registers: [registry] }),
    httpRequests: new Counter({
      name: 'http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['method', 'route', 'status'] as const,
      registers: [registry],
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
