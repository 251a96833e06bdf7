/**
 * What postgres.js costs this process to send the writer's batches: the store's insertMany of 500 orders (one
 * Bind of ~580 KB) through each of several copies of the driver, taking turns against one PostgreSQL, with the
 * CPU time of this process per order. Before and after a change to the driver (patches/postgres+3.4.9.patch) in one
 * run: copy node_modules/postgres aside, put the other version of the patch on the copy, and name both.
 *
 *   node --import tsx bench/driver-write.ts [--orders N] [--rounds N] <label>=<postgres package dir> ...
 *
 * Prints one line per round and driver, and the medians; writes nothing.
 */
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { Cleanup } from '../test/support/cleanup.js'
import type { Sql } from '../src/store/db.js'
import { createOrderStore } from '../src/store/orders.js'
import { batchesOf, orderSet } from './lib/orders.js'
import { startBenchDatabase } from './lib/postgres.js'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { orders: { type: 'string', default: '40000' }, rounds: { type: 'string', default: '6' } },
  strict: true,
})
const drivers = positionals.map((arg) => {
  const [label, dir] = arg.split('=')
  if (label === undefined || dir === undefined) throw new Error(`expected <label>=<postgres package dir>, got ${arg}`)
  return { label, entry: pathToFileURL(join(resolve(dir), 'src/index.js')).href }
})
if (drivers.length === 0) throw new Error('usage: driver-write.ts [--orders N] [--rounds N] <label>=<postgres package dir> ...')
const rounds = Number(values.rounds)
const BATCH = 500

const cleanup = new Cleanup()
try {
  const db = await startBenchDatabase(cleanup)
  const { orders } = orderSet(Number(values.orders))
  const stores = await Promise.all(
    drivers.map(async ({ entry }) => {
      const { default: postgres } = (await import(entry)) as { default: (url: string, options: object) => Sql }
      const sql = postgres(db.url, { max: 1, onnotice: () => {}, types: {} })
      cleanup.add('close a driver', () => sql.end({ timeout: 5 }))
      return createOrderStore(sql)
    }),
  )
  const perOrder: number[][] = drivers.map(() => [])
  console.log(`${orders.length.toLocaleString('en-US')} orders in batches of ${BATCH}, ${rounds} rounds (the first of each driver unreported: it warms up)`)
  for (let round = 0; round <= rounds; round++) {
    for (let k = 0; k < drivers.length; k++) {
      await db.reset()
      const started = process.cpuUsage()
      for (const batch of batchesOf(orders, BATCH)) await stores[k]!.insertMany(batch)
      const cpu = process.cpuUsage(started)
      const us = (cpu.user + cpu.system) / orders.length
      if (round === 0) continue
      perOrder[k]!.push(us)
      console.log(`round ${round} ${drivers[k]!.label}: ${us.toFixed(2)} us of this process's CPU per order (system ${(cpu.system / orders.length).toFixed(2)})`)
    }
  }
  for (let k = 0; k < drivers.length; k++) {
    const sorted = perOrder[k]!.toSorted((a, b) => a - b)
    console.log(`median ${drivers[k]!.label}: ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} us per order`)
  }
} finally {
  await cleanup.run()
}
