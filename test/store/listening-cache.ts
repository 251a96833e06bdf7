import pino from 'pino'
import { OrderCache, type OrderCacheOptions } from '../../src/cache/order-cache.js'
import { listenForCommits, type CommitListener } from '../../src/store/order-commits.js'

/**
 * An instance's cache wired as the service wires it (src/service.ts, startCommitListener): told of the commits
 * heard on `url`, and forgetting every id remembered as unknown whenever it listens (again), which is counted.
 */
export function listeningCache(url: string, name: string, store: OrderCacheOptions['store']): { cache: OrderCache; listener: CommitListener; listens: () => number } {
  const cache = new OrderCache({ maxBytes: 1 << 20, store, now: () => 0 })
  let listens = 0
  const listener = listenForCommits({
    url,
    name: `${name} listener`,
    handlers: {
      committed: (orderUids) => cache.forgetAbsent(orderUids),
      listening: () => {
        listens++
        cache.forgetAllAbsent()
      },
    },
    log: pino({ level: 'silent' }),
  })
  return { cache, listener, listens: () => listens }
}
