/**
 * The benchmark entry: `npm run bench` (node --import tsx bench/run.ts), or `npm run bench -- --quick` for a smoke
 * run with smaller counts; `--orders N` changes the main count; `--cpu-prof` also writes a CPU profile of the
 * broker and of every service process (its directory is printed and kept; bench/profile-top.ts summarises one);
 * `--ingest-only` measures just the ingest ceiling and the service's end-to-end ingest, alternately
 * `--rounds N` times (default 3), and writes no report: the loop for working on the ingest path; each
 * `--env 'NAME=value …'` adds a service run with those settings to every round, and `--baseline REF` one of the
 * service as built from commit REF (say HEAD, before the change in the work tree), to compare them in one run;
 * `--jetstream` adds to every round the service on JetStream (the real nats-server, one node, file store), and the
 * --env and --baseline variants there too, beside the same services on NATS Streaming and the ceiling.
 * `--read-only` is the same loop for the read path: the bare server and the service (and the --env and
 * --baseline variants), all on the same cached orders, alternately `--rounds N` times; no report either.
 * `--instances N` adds a run of N service processes sharing the channel in one queue group to every round.
 * `--latency` measures ingest latency under steady traffic instead (bench/ingest-latency.ts): from the broker's ack of
 * each publish to the order's commit, at `--rate N` orders/s (default 500) for `--seconds N` (default 20) after
 * `--warmup N` seconds not counted (default 5), for the service on NATS Streaming and, with `--jetstream`, on
 * JetStream; with `--baseline REF` (and each `--env`) beside it on each, taking turns going first, `--rounds N` times
 * (default 3); prints a table, writes no report.
 * Starts its own embedded PostgreSQL in a temp dir, builds the service into another, runs the broker and the service as processes of their own, measures each
 * figure beside its ceiling in this same run, prints one table (with the targets of issue 6 beside the figures)
 * and writes its JSON copy to bench/results/ (latest.json, or quick.json for --quick).
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { orderUid } from '../src/publisher/generate-orders.js'
import type { NewOrder } from '../src/store/orders.js'
import { createOrderStore } from '../src/store/orders.js'
import { measureCacheWarm } from './cache-warm.js'
import { rawInsert, type RawInsertResult } from './ingest-raw-insert.js'
import { rowPerTransactionRowsPerSecond } from './ingest-row-per-transaction.js'
import { formatLatencyTable, measureIngestLatency, summarise, type IngestLatencyRun, type LatencyRow } from './ingest-latency.js'
import { serviceIngestRate, type ServiceIngestResult } from './ingest-service.js'
import { storeInsertRowsPerSecond } from './ingest-store-batches.js'
import { startBroker, type BenchBroker } from './lib/broker.js'
import { startBareServer } from './lib/bare-server.js'
import { BENCH_SUBJECT, jetStreamEnv, purgeBenchStream, startBenchNats } from './lib/nats-server.js'
import { Cleanup } from '../test/support/cleanup.js'
import { loadOrders } from './lib/load-orders.js'
import { medianOf } from './lib/median.js'
import { orderSet, ordersBetween, type BatchSize, type OrderSet } from './lib/orders.js'
import { startBenchDatabase, type BenchDatabase } from './lib/postgres.js'
import { publishOrders } from './lib/publish.js'
import { describeMachine, formatTable, writeReport, type Report, type Row } from './lib/report.js'
import { readRssBytes } from '../test/support/proc.js'
import { buildService, type ServiceBuild } from './lib/service-build.js'
import { startService, type RunningService } from './lib/service.js'
import { expectWrk, runWrk, type LoadResult } from './lib/wrk.js'
import { readBesideBare } from './read-beside-bare.js'
import { describeStatuses, measureServiceRead } from './read-service.js'

interface Plan {
  orders: number
  /** The one-row-per-transaction rate is taken on fewer rows: it is slow, and its rate does not depend on count. */
  rowPerTransactionOrders: number
  batchSizes: number[]
  /** Small batches are slow too: at most this many orders for a batch size. */
  ordersForBatchSize: (size: number) => number
  /** Each store-level ingest rate is the median of this many runs. */
  repeats: number
  /** Seconds of each wrk run, and of the unmeasured run before a server's first. */
  readSeconds: number
  warmupSeconds: number
  /** Rounds of bare server then service for the read target; the figures are the medians. */
  readRounds: number
  /** Rounds of raw INSERT ceiling then service ingest for the ingest target; the ratio is the median of the rounds'. */
  ingestRounds: number
  /** Tables smaller than `orders` the service is started on, for restore time (and, for the first, read rate) by size. */
  smallTables: number[]
  /** A table larger than `orders` (loaded on top of it) for the large end of the growth rows; 0 for none. */
  largeTable: number
  /** BATCH_MAX_SIZE values the service ingests with besides its default (CEILING_BATCH). */
  serviceBatchSizes: number[]
}

const PLANS: Record<Report['mode'], Plan> = {
  full: {
    orders: 100_000,
    rowPerTransactionOrders: 5_000,
    batchSizes: [1, 10, 100, 500, 1000],
    ordersForBatchSize: (size) => (size === 1 ? 5_000 : size === 10 ? 20_000 : 100_000),
    repeats: 3,
    readSeconds: 5,
    warmupSeconds: 3,
    readRounds: 3,
    ingestRounds: 3,
    smallTables: [1_000, 10_000],
    largeTable: 1_000_000,
    serviceBatchSizes: [50, 2000],
  },
  quick: {
    orders: 10_000,
    rowPerTransactionOrders: 500,
    batchSizes: [1, 10, 100, 500, 1000],
    ordersForBatchSize: (size) => (size === 1 ? 500 : size === 10 ? 2_000 : 10_000),
    repeats: 1,
    readSeconds: 2,
    warmupSeconds: 1,
    readRounds: 2,
    ingestRounds: 1,
    smallTables: [1_000],
    largeTable: 0,
    serviceBatchSizes: [50, 2000],
  },
}

/** The batch size of the multi-row INSERT ceiling, and the service's default BATCH_MAX_SIZE. */
const CEILING_BATCH = 500
/** Batch sizes of the store's varying-size measurement. */
const VARYING_BATCH = [300, 500] as const
/** The service's default STAN_MAX_IN_FLIGHT: a batch larger than it could never fill (see serviceIngest). */
const DEFAULT_MAX_IN_FLIGHT = 4096
/** Channels on the bench broker: the published orders, and an empty one for services that only serve reads. */
const ORDERS_CHANNEL = 'orders'
const IDLE_CHANNEL = 'idle'
const GiB = 2 ** 30

/** The targets of issue 6, checked in the table's last column. */
const TARGETS = {
  readOfBare: 0.75,
  readP99Ms: 10,
  ingestRate: 15_000,
  ingestOfCeiling: 0.6,
  liveOfCeiling: 0.75,
  readCpuOfBare: 1.2,
  restoreMs: 2_000,
  restoreOrders: 100_000,
  memoryOfJson: 2,
}

interface Bench {
  cleanup: Cleanup
  db: BenchDatabase
  build: ServiceBuild
  broker: BenchBroker
  plan: Plan
  set: OrderSet
  /** Node flags for every service process (--cpu-prof when asked). */
  serviceFlags: string[]
  add: (row: Row) => void
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      orders: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'ingest-only': { type: 'boolean', default: false },
      'read-only': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      env: { type: 'string', multiple: true, default: [] },
      baseline: { type: 'string' },
      jetstream: { type: 'boolean', default: false },
      instances: { type: 'string', default: '1' },
      latency: { type: 'boolean', default: false },
      rate: { type: 'string', default: '500' },
      seconds: { type: 'string', default: '20' },
      warmup: { type: 'string', default: '5' },
    },
  })
  const mode: Report['mode'] = values.quick ? 'quick' : 'full'
  const plan = values.orders === undefined ? PLANS[mode] : { ...PLANS[mode], orders: Number(values.orders) }
  if (!Number.isInteger(plan.orders) || plan.orders < 10_000) throw new Error('--orders must be a whole number of at least 10,000')
  if (!values['ingest-only'] && !values.latency) await expectWrk()
  const cleanup = new Cleanup()
  cleanup.onSignals()
  // Every child process and temp dir holds an exit hook until cleanup (last-resort kill and removal): a run has ~20.
  process.setMaxListeners(64)
  const startedAt = new Date().toISOString()
  try {
    const rows: Row[] = []
    const add = (row: Row) => {
      rows.push(row)
      console.error(`  ${row.group} / ${row.name}: ${row.value === null ? 'TODO' : row.value.toFixed(2)} ${row.unit}${row.note ? ` (${row.note})` : ''}`)
    }
    const serviceFlags: string[] = []
    if (values['cpu-prof']) {
      // Kept after the run (not a cleanup temp dir): the profiles are what was asked for.
      const dir = await mkdtemp(join(tmpdir(), 'order-bench-profiles-'))
      serviceFlags.push('--cpu-prof', `--cpu-prof-dir=${dir}`)
      console.error(`CPU profiles of the service processes: ${dir}`)
    }
    const [db, build] = await Promise.all([startBenchDatabase(cleanup), buildService(cleanup)])
    const broker = await startBroker(cleanup, build, serviceFlags)
    const variantsOf = async (): Promise<Variant[]> => {
      const variants: Variant[] = values.env.map((text) => ({ label: `with ${text}`, build, env: parseEnv(text) }))
      if (values.baseline !== undefined) variants.push({ label: `built from ${values.baseline}`, build: await buildService(cleanup, values.baseline), env: {} })
      return variants
    }
    if (values.latency) {
      const steady = { rate: Number(values.rate), seconds: Number(values.seconds), warmupSeconds: Number(values.warmup) }
      const nats = values.jetstream ? await startBenchNats(cleanup) : undefined
      const rows = await measureLatency({ cleanup, db, build, broker, serviceFlags }, steady, Number(values.rounds), await variantsOf(), nats)
      const m = describeMachine(db.version)
      const header = [
        `order-service ingest latency under steady traffic, ${startedAt}`,
        `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Node ${m.node}; ${m.postgres}`,
        `command: npm run bench -- ${process.argv.slice(2).join(' ')}`,
        `${steady.rate} orders/s for ${steady.seconds} s after ${steady.warmupSeconds} s not counted, ${values.rounds} rounds; ms from the broker's ack of each publish to its commit heard (LISTEN orders_committed)`,
      ]
      console.log(formatLatencyTable(header, rows))
      return
    }
    console.error(`${mode} run: ${plan.orders.toLocaleString('en-US')} orders`)
    const set = orderSet(plan.orders)
    const bench: Bench = { cleanup, db, build, broker, plan, set, serviceFlags, add }
    if (values['ingest-only'] || values['read-only']) {
      const variants = await variantsOf()
      const nats = values.jetstream && !values['read-only'] ? await startBenchNats(cleanup) : undefined
      if (values['read-only']) await measureReadOnly(bench, Number(values.rounds), variants)
      else await measureIngestOnly(bench, Number(values.rounds), variants, nats, Number(values.instances))
      return
    }

    await measureIngest(db, set.orders, plan, add)
    const emptyRss = await measureSmallTables(bench)
    await measureServiceIngest(bench)
    await measureRestoreMemoryAndReads(bench, emptyRss)
    if (plan.largeTable > 0) await measureLargeTable(bench, emptyRss)

    const report: Report = {
      mode,
      startedAt,
      finishedAt: new Date().toISOString(),
      command: `node --import tsx bench/run.ts${mode === 'quick' ? ' --quick' : ''}`,
      machine: describeMachine(db.version),
      rows: sortByGroup(rows),
    }
    const path = new URL(`./results/${mode === 'quick' ? 'quick' : 'latest'}.json`, import.meta.url).pathname
    await writeReport(path, report)
    console.log(formatTable(report))
    console.log(`\nJSON copy: ${path}`)
  } catch (error) {
    // Interrupted: the connections were closed under the running measurement; that is not a failure to report.
    if (!cleanup.started) throw error
  } finally {
    await cleanup.run()
  }
}

/** The ceilings first, then the store by batch size (fixed, and varying as the writer's can). */
async function measureIngest(db: BenchDatabase, orders: NewOrder[], plan: Plan, add: (row: Row) => void): Promise<void> {
  // An unreported round of each write first, so the first measured one does not run cold.
  const warmup = orders.slice(0, Math.ceil(orders.length / 20))
  await rawInsert(db, warmup, CEILING_BATCH)
  await storeInsertRowsPerSecond(db, warmup, CEILING_BATCH)

  const runs = plan.repeats > 1 ? `median of ${plan.repeats}` : '1 run'
  const repeated = async (count: number, measure: () => Promise<number>) => {
    const rate = await medianOf(plan.repeats, measure)
    const spread = plan.repeats > 1 ? ` (${Math.round(rate.min)}..${Math.round(rate.max)})` : ''
    return { value: rate.median, note: `${count.toLocaleString('en-US')} orders; ${runs}${spread}` }
  }
  // The raw INSERT's runs, to note the CPU per row of the run of median rate.
  const rawRuns: RawInsertResult[] = []
  const rawRate = async (batch: BatchSize) => {
    const run = await rawInsert(db, orders, batch)
    rawRuns.push(run)
    return run.rowsPerSecond
  }
  const medianRun = (runs: RawInsertResult[], rate: number) => runs.find((run) => run.rowsPerSecond === rate) ?? runs[0]!

  const raw = await repeated(orders.length, () => rawRate(CEILING_BATCH))
  add({ group: 'ingest', name: `raw multi-row INSERT, ${CEILING_BATCH} rows (ceiling)`, unit: 'rows/s', ...raw, note: `${raw.note}; ${insertCpuNote(medianRun(rawRuns, raw.value))}` })
  const ofCeiling = (value: number) => `; ${ratio(value, raw.value)} of ceiling`

  const naive = orders.slice(0, plan.rowPerTransactionOrders)
  const single = await repeated(naive.length, () => rowPerTransactionRowsPerSecond(db, naive))
  add({ group: 'ingest', name: 'one row per transaction (naive)', unit: 'rows/s', value: single.value, note: single.note + ofCeiling(single.value) })

  for (const size of plan.batchSizes) {
    const some = orders.slice(0, Math.min(plan.ordersForBatchSize(size), orders.length))
    const rate = await repeated(some.length, () => storeInsertRowsPerSecond(db, some, size))
    add({ group: 'ingest', name: `store insertMany, batch ${size}`, unit: 'rows/s', value: rate.value, note: rate.note + ofCeiling(rate.value) })
  }
  // What the writer sends when batches do not fill: a different size each time. The store sizes its statements on
  // a ladder (src/store/orders.ts, slotsFor); the raw INSERT beside it sends a statement text per size.
  const sizes = `${VARYING_BATCH[0]}..${VARYING_BATCH[1]}`
  rawRuns.length = 0
  const varyingRaw = await repeated(orders.length, () => rawRate(VARYING_BATCH))
  add({ group: 'ingest', name: `raw multi-row INSERT, batches of ${sizes}, a statement per size`, unit: 'rows/s', value: varyingRaw.value, note: varyingRaw.note + ofCeiling(varyingRaw.value) })
  const varying = await repeated(orders.length, () => storeInsertRowsPerSecond(db, orders, VARYING_BATCH))
  add({ group: 'ingest', name: `store insertMany, batches of ${sizes}`, unit: 'rows/s', value: varying.value, note: varying.note + ofCeiling(varying.value) })
}

/**
 * The service on an empty table (the baseline its memory per order is taken against), then on small tables:
 * restore time by table size, and the read rate with the first size all cached. Returns the empty service's RSS.
 */
async function measureSmallTables(bench: Bench): Promise<number> {
  const { db, set, plan, add } = bench
  await db.reset()
  const empty = await startReadService(bench)
  const emptyRss = await settledRss(empty)
  await empty.stop()

  let loaded = 0
  for (const [i, size] of plan.smallTables.entries()) {
    loaded += await loadOrders(db, set.orders.slice(loaded, size))
    const service = await startReadService(bench)
    expectWarmed(service, size)
    add({ group: 'restore', name: `service start-up restore, ${count(size)} orders`, value: service.warmed.ms, unit: 'ms', note: 'its "cache warmed" log line' })
    if (i === 0) {
      const ids = set.orders.slice(0, size).map((order) => order.orderUid)
      const read = await measureServiceRead(bench.cleanup, service, { ids, seconds: plan.readSeconds, warmupSeconds: plan.warmupSeconds })
      expectAllHits(read.lookups, `read with ${count(size)} cached`)
      add({ group: 'read', name: `service GET /order/:id, ${count(size)} cached`, value: read.load.rps, unit: 'req/s', note: latencyNote(read.load) })
    }
    await service.stop()
  }
  return emptyRss
}

/**
 * Publishes the orders once, while no service consumes; then each run starts a service on an empty table with
 * a new durable (so it takes the channel from its first message) and times its ingest. The default batch size
 * runs last, so its run leaves every order stored for the measurements after it.
 */
async function measureServiceIngest(bench: Bench): Promise<void> {
  const { set, plan, add } = bench
  const published = await publishOrders(bench.cleanup, bench.broker, { channel: ORDERS_CHANNEL, count: set.orders.length, seed: 1 })
  console.error(`  published ${count(published.acked)} orders (${Math.round(published.bytes / published.acked)} B each) in ${Math.round(published.ms)} ms`)

  const ingest = (batch: number, round = 1): Promise<ServiceIngestResult> => {
    // A batch can only fill when the broker may have that many messages out: in flight at least twice the batch,
    // so the next batch gathers while one is written (at the default batch size this is the default, 4096).
    const inFlight = Math.max(DEFAULT_MAX_IN_FLIGHT, 2 * batch)
    return serviceIngestRate(bench.cleanup, bench.db, bench.build, bench.broker, {
      channel: ORDERS_CHANNEL,
      count: set.orders.length,
      durable: `ingest-batch-${batch}-${round}`,
      env: { BATCH_MAX_SIZE: String(batch), STAN_MAX_IN_FLIGHT: String(inFlight) },
      nodeFlags: bench.serviceFlags,
    })
  }
  const describe = (result: ServiceIngestResult, batch: number) =>
    `${count(set.orders.length)} pre-published; from the first transaction's start to the last's; mean batch ${Math.round(result.meanBatch)}` +
    `; in flight ${Math.max(DEFAULT_MAX_IN_FLIGHT, 2 * batch)}; ${(result.totalMs / 1000).toFixed(1)} s from spawn; ${cpuNote(result)}`

  for (const batch of plan.serviceBatchSizes) {
    const result = await ingest(batch)
    add({ group: 'ingest', name: `service end to end, BATCH_MAX_SIZE ${batch}`, value: result.rate, unit: 'orders/s', note: describe(result, batch) })
  }
  // Two instances in one queue group beside one (the rounds below): on two cores they share the same CPU.
  const two = await serviceIngestRate(bench.cleanup, bench.db, bench.build, bench.broker, {
    channel: ORDERS_CHANNEL,
    count: set.orders.length,
    durable: 'ingest-two-instances',
    instances: 2,
    nodeFlags: bench.serviceFlags,
  })
  add({ group: 'ingest', name: `two service instances in one queue group, default BATCH_MAX_SIZE ${CEILING_BATCH}`, value: two.rate, unit: 'orders/s', note: instancesNote(two) })

  // The target: the service at its defaults beside the ceiling, alternately, each pair seconds apart, so the
  // ratio holds on a machine whose speed drifts; the default batch size runs last, leaving every order stored.
  const pairs: { ceiling: number; result: ServiceIngestResult; live: ServiceIngestResult }[] = []
  for (let round = 1; round <= plan.ingestRounds; round++) {
    const ceilingNow = await rawInsert(bench.db, set.orders, CEILING_BATCH)
    const live = await liveIngest(bench, { label: '', build: bench.build, env: {} }, String(round), bench.broker)
    pairs.push({ ceiling: ceilingNow.rowsPerSecond, result: await ingest(CEILING_BATCH, round), live })
  }
  const liveRatios = pairs.map((pair) => pair.live.rate / pair.ceiling)
  const liveMedian = pairs.toSorted((a, b) => a.live.rate / a.ceiling - b.live.rate / b.ceiling)[Math.floor(pairs.length / 2)]!
  add({
    group: 'ingest',
    name: `service end to end, published live (a publisher at full speed meanwhile), default BATCH_MAX_SIZE ${CEILING_BATCH}`,
    value: liveMedian.live.rate,
    unit: 'orders/s',
    note: `first publish to the last batch; the round of median ratio of ${pairs.length} (${liveRatios.map((r) => r.toFixed(2)).join(', ')}); its ceiling ${Math.round(liveMedian.ceiling)} rows/s; ${cpuNote(liveMedian.live)}`,
    target: `≥ ${TARGETS.liveOfCeiling} of ceiling in every round: ${verdict(liveRatios.every((r) => r >= TARGETS.liveOfCeiling))}`,
  })
  const cpuRatios = pairs.flatMap((pair) => [pair.result, pair.live]).map(({ cpuPerOrder: cpu }) => cpu.service / cpu.postgres)
  add({
    group: 'ingest',
    name: 'service CPU per ingested order over PostgreSQL\'s (every run above, backlog and live)',
    value: Math.max(...cpuRatios),
    unit: 'x',
    note: `the largest of ${cpuRatios.map((r) => r.toFixed(2)).join(', ')}`,
    target: `≤ 1: ${verdict(cpuRatios.every((r) => r <= 1))}`,
  })
  const byRatio = pairs.toSorted((a, b) => a.result.rate / a.ceiling - b.result.rate / b.ceiling)
  const median = byRatio[Math.floor(byRatio.length / 2)]!
  const ratios = pairs.map((pair) => ratio(pair.result.rate, pair.ceiling)).join(', ')
  const met = median.result.rate >= TARGETS.ingestRate && median.result.rate / median.ceiling >= TARGETS.ingestOfCeiling
  add({
    group: 'ingest',
    name: `service end to end (broker, gate, writer, cache), default BATCH_MAX_SIZE ${CEILING_BATCH}`,
    value: median.result.rate,
    unit: 'orders/s',
    note:
      `the round of median ratio of ${pairs.length} (ceiling then service, alternately: ${ratios}); ` +
      `its ceiling ${Math.round(median.ceiling)} rows/s; ${describe(median.result, CEILING_BATCH)}`,
    target: `≥ ${count(TARGETS.ingestRate)}/s and ≥ ${TARGETS.ingestOfCeiling} of ceiling: ${verdict(met)}`,
  })
}

/** A service run of --ingest-only or --read-only beside the default one: other settings (--env), or another build (--baseline). */
interface Variant {
  label: string
  build: ServiceBuild
  env: Record<string, string>
}

/**
 * The ingest loop: the raw INSERT ceiling and the service end to end, alternately, so each ratio compares two
 * figures taken seconds apart. Each service round uses a new durable, so it takes the channel from its start.
 */
async function measureIngestOnly(bench: Bench, rounds: number, variants: Variant[], nats: BenchBroker | undefined, instances: number): Promise<void> {
  const { db, set, add } = bench
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number of at least 1')
  await rawInsert(db, set.orders.slice(0, Math.ceil(set.orders.length / 20)), CEILING_BATCH)
  await publishOrders(bench.cleanup, bench.broker, { channel: ORDERS_CHANNEL, count: set.orders.length, seed: 1 })
  // The same orders (same seed) on JetStream, published as bin/publish does, with message ids.
  if (nats !== undefined) await publishOrders(bench.cleanup, nats, { channel: BENCH_SUBJECT, count: set.orders.length, seed: 1 })
  for (let round = 1; round <= rounds; round++) {
    const ceilingRun = await rawInsert(db, set.orders, CEILING_BATCH)
    const ceiling = ceilingRun.rowsPerSecond
    add({ group: 'ingest', name: `round ${round}: raw multi-row INSERT, ${CEILING_BATCH} rows (ceiling)`, value: ceiling, unit: 'rows/s', note: insertCpuNote(ceilingRun) })
    for (const [i, variant] of [{ label: '', build: bench.build, env: {} }, ...variants].entries()) {
      const result = await serviceIngestRate(bench.cleanup, db, variant.build, bench.broker, {
        channel: ORDERS_CHANNEL,
        count: set.orders.length,
        durable: `ingest-round-${round}-${i}`,
        env: variant.env,
        nodeFlags: bench.serviceFlags,
      })
      add({
        group: 'ingest',
        name: `round ${round}: service end to end${variant.label === '' ? '' : ` ${variant.label}`}`,
        value: result.rate,
        unit: 'orders/s',
        note: `${ratio(result.rate, ceiling)} of ceiling; mean batch ${Math.round(result.meanBatch)}; ${cpuNote(result)}`,
      })
      const live = await liveIngest(bench, variant, `${round}-${i}`, bench.broker)
      add({
        group: 'ingest',
        name: `round ${round}: service end to end, published live${variant.label === '' ? '' : ` ${variant.label}`}`,
        value: live.rate,
        unit: 'orders/s',
        note: `${ratio(live.rate, ceiling)} of ceiling; mean batch ${Math.round(live.meanBatch)}; ${cpuNote(live)}`,
      })
    }
    if (instances > 1) {
      const result = await serviceIngestRate(bench.cleanup, db, bench.build, bench.broker, {
        channel: ORDERS_CHANNEL,
        count: set.orders.length,
        durable: `ingest-round-${round}-instances`,
        instances,
        nodeFlags: bench.serviceFlags,
      })
      const name = `round ${round}: ${instances} service instances in one queue group`
      add({ group: 'ingest', name, value: result.rate, unit: 'orders/s', note: `${ratio(result.rate, ceiling)} of ceiling; ${instancesNote(result)}` })
    }
    if (nats !== undefined) for (const [i, variant] of [{ label: '', build: bench.build, env: {} }, ...variants].entries()) {
      const durable = `ingest-round-${round}-${i}`
      const result = await serviceIngestRate(bench.cleanup, db, variant.build, nats, {
        channel: ORDERS_CHANNEL,
        count: set.orders.length,
        durable,
        env: { ...variant.env, ...jetStreamEnv(nats, durable) },
        nodeFlags: bench.serviceFlags,
      })
      add({
        group: 'ingest',
        name: `round ${round}: service end to end on JetStream (nats-server, file store)${variant.label === '' ? '' : ` ${variant.label}`}`,
        value: result.rate,
        unit: 'orders/s',
        note: `${ratio(result.rate, ceiling)} of ceiling; mean batch ${Math.round(result.meanBatch)}; ${cpuNote(result).replace('broker', 'nats-server')}`,
      })
      // Last on JetStream this round: it empties the stream, then leaves it holding the orders it published live.
      const live = await liveIngest(bench, variant, `${round}-${i}`, nats)
      add({
        group: 'ingest',
        name: `round ${round}: service end to end on JetStream, published live${variant.label === '' ? '' : ` ${variant.label}`}`,
        value: live.rate,
        unit: 'orders/s',
        note: `${ratio(live.rate, ceiling)} of ceiling; mean batch ${Math.round(live.meanBatch)}; ${cpuNote(live).replace('broker', 'nats-server')}`,
      })
    }
  }
}

/**
 * Ingest latency under steady traffic: on NATS Streaming, then on JetStream when asked, the service (this build and
 * each variant) in rounds, taking turns going first (nats-server 2.9.10 drops a JetStream pull at random: none to four
 * of the ten or so pulls of a 20 s run were dropped here, so one run may or may not meet one; and in runs of a fixed
 * order the build that went first met more of them). Each run has an empty table, a channel (or a purged stream) of its own and orders of its own.
 * Rows: each round, then all rounds of a service pooled.
 */
async function measureLatency(
  bench: Pick<Bench, 'cleanup' | 'db' | 'build' | 'broker' | 'serviceFlags'>,
  steady: { rate: number; seconds: number; warmupSeconds: number },
  rounds: number,
  variants: Variant[],
  nats: BenchBroker | undefined,
): Promise<LatencyRow[]> {
  const { rate, seconds, warmupSeconds } = steady
  if (!(rate > 0) || !(seconds > 0) || !(warmupSeconds >= 0)) throw new Error('--rate and --seconds must be above 0, --warmup at least 0')
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number of at least 1')
  const rows: LatencyRow[] = []
  const services = [{ label: 'this build', build: bench.build, env: {} }, ...variants]
  const transports = [
    { name: 'NATS Streaming (embedded broker)', broker: bench.broker },
    ...(nats === undefined ? [] : [{ name: 'JetStream (nats-server, file store)', broker: nats }]),
  ]
  let run = 0
  for (const transport of transports) {
    const runs = new Map(services.map((service) => [service.label, [] as IngestLatencyRun[]]))
    for (let round = 1; round <= rounds; round++) {
      for (const variant of services.map((_, i) => services[(i + round - 1) % services.length]!)) {
        run++
        const durable = `latency-${run}`
        const onJetStream = transport.broker === nats
        if (onJetStream) await purgeBenchStream(transport.broker)
        const result = await measureIngestLatency(bench.cleanup, bench.db, variant.build, transport.broker, {
          channel: onJetStream ? BENCH_SUBJECT : durable,
          serviceChannel: onJetStream ? ORDERS_CHANNEL : durable,
          durable,
          seed: 100 + run,
          ...steady,
          env: onJetStream ? { ...variant.env, ...jetStreamEnv(transport.broker, durable) } : variant.env,
          nodeFlags: bench.serviceFlags,
        })
        runs.get(variant.label)!.push(result)
        const figures = summarise([result])
        const ms = (value: number) => `${value.toFixed(1)} ms`
        console.error(
          `  ${transport.name} / ${variant.label} / round ${round}: p50 ${ms(figures.p50)}, p99 ${ms(figures.p99)}, max ${ms(figures.max)}, ${figures.overOneSecond} of ${count(figures.orders)} over 1 s`,
        )
      }
    }
    for (const [service, measured] of runs) {
      measured.forEach((one, i) => rows.push({ transport: transport.name, service, round: String(i + 1), result: summarise([one]) }))
      if (rounds > 1) rows.push({ transport: transport.name, service, round: 'all', result: summarise(measured) })
    }
  }
  return rows
}

/**
 * The read loop: wrk against the bare server, then against each service (this build and the variants), in rounds,
 * every service serving the same stored orders from its cache; each ratio compares figures seconds apart. The
 * services take turns going first after the bare server: in a fixed order the one going first measured lower in
 * all five rounds of a run, and taking turns, the one going first was the lower in four rounds of six.
 */
async function measureReadOnly(bench: Bench, rounds: number, variants: Variant[]): Promise<void> {
  const { cleanup, db, set, plan, add } = bench
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds must be a whole number of at least 1')
  await db.reset()
  await loadOrders(db, set.orders)
  const ids = set.orders.map((order) => order.orderUid)
  const body = await createOrderStore(db.sql).findBody(ids[0]!)
  if (body === undefined) throw new Error('the first order is not stored')
  const bare = await startBareServer(cleanup, body)
  const services: { label: string; service: RunningService }[] = []
  for (const variant of [{ label: '', build: bench.build, env: {} }, ...variants]) {
    const service = await startService(cleanup, variant.build, { databaseUrl: db.url, broker: bench.broker, channel: IDLE_CHANNEL, durable: 'reader', env: variant.env, nodeFlags: bench.serviceFlags })
    expectWarmed(service, set.orders.length)
    services.push({ label: variant.label, service })
  }
  const paths = ids.map((id) => `/order/${id}`)
  const bareRun = (seconds: number) => runWrk(cleanup, { baseUrl: bare.baseUrl, paths, seconds, serverPid: bare.pid })
  const serviceRun = (service: RunningService, seconds: number) => measureServiceRead(cleanup, service, { ids, seconds, warmupSeconds: 0 })
  // Unmeasured runs first, so every server is JIT-compiled and its sockets' buffers grown.
  await bareRun(plan.warmupSeconds)
  for (const { service } of services) await serviceRun(service, plan.warmupSeconds)
  for (let round = 1; round <= rounds; round++) {
    const ceiling = await bareRun(plan.readSeconds)
    add({ group: 'read', name: `round ${round}: bare node:http, one prebuilt order (ceiling)`, value: ceiling.rps, unit: 'req/s', note: latencyNote(ceiling) })
    for (const { label, service } of services.map((_, i) => services[(i + round - 1) % services.length]!)) {
      const read = await serviceRun(service, plan.readSeconds)
      expectAllHits(read.lookups, `round ${round}${label === '' ? '' : ` ${label}`}`)
      add({
        group: 'read',
        name: `round ${round}: service GET /order/:id${label === '' ? '' : ` ${label}`}`,
        value: read.load.rps,
        unit: 'req/s',
        note: `${ratio(read.load.rps, ceiling.rps)} of bare; ${latencyNote(read.load)}${cpuOfBare(read.load, ceiling)}`,
      })
    }
  }
}

/** Mean batch, each instance's share and the CPU per order of a multi-instance run. */
function instancesNote(result: ServiceIngestResult): string {
  return `mean batch ${Math.round(result.meanBatch)}; stored per instance ${result.storedBy.join(' / ')}; ${cpuNote(result)} (the instances together)`
}

/** CPU per order of each process of the pipeline (and of the publisher, when it published live), in microseconds. */
function cpuNote({ cpuPerOrder: cpu }: ServiceIngestResult): string {
  const publisher = cpu.publisher === undefined ? '' : `; publisher ${cpu.publisher.toFixed(1)} us`
  return `CPU per order: service ${cpu.service.toFixed(1)} us, broker ${cpu.broker.toFixed(1)} us, PostgreSQL ${cpu.postgres.toFixed(1)} us${publisher}`
}

let liveRuns = 0

/**
 * The service ingesting while a publisher sends the orders at full speed: on NATS Streaming into a channel of its
 * own; on JetStream (`nats`) into the bench stream, emptied first. Each run publishes orders of a seed of its own.
 */
async function liveIngest(bench: Bench, variant: Variant, name: string, broker: BenchBroker): Promise<ServiceIngestResult> {
  const durable = `live-${name}`
  const seed = 1000 + ++liveRuns
  const onJetStream = broker.clusterId === ''
  if (onJetStream) await purgeBenchStream(broker)
  return serviceIngestRate(bench.cleanup, bench.db, variant.build, broker, {
    channel: onJetStream ? ORDERS_CHANNEL : durable,
    count: bench.set.orders.length,
    durable,
    env: onJetStream ? { ...variant.env, ...jetStreamEnv(broker, durable) } : variant.env,
    nodeFlags: bench.serviceFlags,
    live: { publishTo: onJetStream ? BENCH_SUBJECT : durable, seed },
  })
}

/** `--env 'A=1 B=2'` as { A: '1', B: '2' }. */
function parseEnv(text: string): Record<string, string> {
  return Object.fromEntries(
    text.split(/\s+/).filter(Boolean).map((pair) => {
      const at = pair.indexOf('=')
      if (at < 1) throw new Error(`--env takes NAME=value pairs, not ${pair}`)
      return [pair.slice(0, at), pair.slice(at + 1)]
    }),
  )
}

/**
 * With every order stored: the raw read and OrderCache.warm in a process of their own, then the service restoring
 * them at start-up, its memory with all of them cached, and its reads (cached, unknown ids, read-through) beside
 * the bare server's, measured the same way.
 */
async function measureRestoreMemoryAndReads(bench: Bench, emptyRss: number): Promise<void> {
  const { cleanup, db, set, plan, add } = bench
  const n = count(set.orders.length)
  const warm = await measureCacheWarm(cleanup, db, set.orders.length)
  add({ group: 'restore', name: 'raw read of all rows (ceiling)', value: warm.rawReadMs, unit: 'ms', note: `${n} rows, one query` })

  const jsonPerOrder = set.jsonBytes / set.orders.length
  const retainedPerOrder = warm.retainedBytes / warm.entries
  add({ group: 'memory', name: 'order JSON, mean', value: jsonPerOrder, unit: 'bytes', note: `${n} generated orders` })
  add({ group: 'memory', name: 'cache retained per order (heap + buffers)', value: retainedPerOrder, unit: 'bytes', note: `${ratio(retainedPerOrder, jsonPerOrder)} x JSON; after full GCs` })
  add({
    group: 'memory',
    name: 'cache accounted per order (entrySize)',
    value: warm.accountedBytes / warm.entries,
    unit: 'bytes',
    note: `${ratio(warm.accountedBytes, warm.retainedBytes)} of retained`,
  })

  const service = await startReadService(bench)
  expectWarmed(service, set.orders.length)
  const restoreTarget = set.orders.length === TARGETS.restoreOrders ? `< ${count(TARGETS.restoreMs)} ms: ${verdict(service.warmed.ms < TARGETS.restoreMs)}` : undefined
  add({
    group: 'restore',
    name: `service start-up restore, ${n} orders`,
    value: service.warmed.ms,
    unit: 'ms',
    note: `its "cache warmed" log line; ${ratio(service.warmed.ms, warm.rawReadMs)} x raw read; ready ${Math.round(service.readyMs)} ms after spawn`,
    ...(restoreTarget ? { target: restoreTarget } : {}),
  })
  addServiceMemory(add, await settledRss(service), emptyRss, set.orders.length, jsonPerOrder)

  const ids = set.orders.map((order) => order.orderUid)
  const body = await createOrderStore(db.sql).findBody(ids[0]!)
  if (body === undefined) throw new Error('the first order is not stored')
  const load = { seconds: plan.readSeconds, warmupSeconds: plan.warmupSeconds }
  const pair = await readBesideBare(cleanup, service, { body, ids, rounds: plan.readRounds, ...load })
  expectAllHits(pair.lookups, `read with ${n} cached`)
  const rounds = `median of ${plan.readRounds} alternating rounds of ${plan.readSeconds} s`
  add({ group: 'read', name: 'bare node:http, one prebuilt order (ceiling)', value: pair.bare.rps, unit: 'req/s', note: `wrk 50 conn, 2 threads; ${rounds}; ${latencyNote(pair.bare)}` })
  const ofBare = pair.service.rps / pair.bare.rps
  add({
    group: 'read',
    name: `service GET /order/:id, ${n} cached`,
    value: pair.service.rps,
    unit: 'req/s',
    note: `${ofBare.toFixed(2)} of bare; ${rounds}; ${latencyNote(pair.service)}`,
    target: `≥ ${TARGETS.readOfBare} of bare: ${verdict(ofBare >= TARGETS.readOfBare)}`,
  })
  const cpuOf = (load: LoadResult) => load.cpuPerRequest.server ?? NaN
  const cpuRatio = cpuOf(pair.service) / cpuOf(pair.bare)
  add({
    group: 'read',
    name: `service CPU per GET /order/:id, ${n} cached`,
    value: cpuOf(pair.service),
    unit: 'us',
    note: `${cpuRatio.toFixed(2)} x bare node:http's ${cpuOf(pair.bare).toFixed(1)} us; ${rounds}`,
    target: `≤ ${TARGETS.readCpuOfBare} x bare: ${verdict(cpuRatio <= TARGETS.readCpuOfBare)}`,
  })
  add({
    group: 'read',
    name: `service p99, ${n} cached`,
    value: pair.service.p99Ms,
    unit: 'ms',
    note: `p50 ${pair.service.p50Ms.toFixed(2)} ms, max ${pair.service.maxMs.toFixed(0)} ms (bare: p99 ${pair.bare.p99Ms.toFixed(2)} ms, max ${pair.bare.maxMs.toFixed(0)} ms)`,
    target: `< ${TARGETS.readP99Ms} ms: ${verdict(pair.service.p99Ms < TARGETS.readP99Ms)}`,
  })

  // Ids of the right form that no order has: each is looked up in PostgreSQL once, then remembered as absent for 2 s.
  const unknown = set.orders.map((_, index) => orderUid(0x5eed, index))
  const absent = await measureServiceRead(cleanup, service, { ids: unknown, ...load })
  add({
    group: 'read',
    name: 'service unknown ids (404)',
    value: absent.load.rps,
    unit: 'req/s',
    note: `${n} random unknown ids; ${describeStatuses(absent.statuses)}; ${ratio(absent.load.rps, pair.bare.rps)} of bare; ${latencyNote(absent.load)}`,
  })
  await service.stop()

  // A budget below one order's size: nothing stays cached, so every request reads its order from PostgreSQL.
  const uncached = await startReadService(bench, { CACHE_MAX_BYTES: '1024' })
  const through = await measureServiceRead(cleanup, uncached, { ids, ...load })
  if (through.lookups.hit > 0) throw new Error(`read-through: ${through.lookups.hit} lookups hit a cache that should hold nothing`)
  add({
    group: 'read',
    name: 'service read-through (not cached)',
    value: through.load.rps,
    unit: 'req/s',
    note: `CACHE_MAX_BYTES=1024 holds no order: each lookup reads PostgreSQL; ${describeStatuses(through.statuses)}; ${ratio(through.load.rps, pair.bare.rps)} of bare; ${latencyNote(through.load)}`,
  })
  await uncached.stop()
}

/** The large end of the growth rows: more orders loaded on top of the set, restored, weighed and read. */
async function measureLargeTable(bench: Bench, emptyRss: number): Promise<void> {
  const { db, set, plan, add } = bench
  const size = plan.largeTable
  const started = performance.now()
  const loaded = await loadOrders(db, ordersBetween(set.orders.length, size))
  if (loaded !== size - set.orders.length) throw new Error(`loaded ${loaded} orders, expected ${size - set.orders.length}`)
  console.error(`  loaded ${count(loaded)} more orders in ${Math.round(performance.now() - started)} ms`)

  const service = await startReadService(bench, { CACHE_MAX_BYTES: String(2 * GiB) })
  expectWarmed(service, size)
  add({ group: 'restore', name: `service start-up restore, ${count(size)} orders`, value: service.warmed.ms, unit: 'ms', note: 'its "cache warmed" log line; CACHE_MAX_BYTES 2 GiB' })
  addServiceMemory(add, await settledRss(service), emptyRss, size, set.jsonBytes / set.orders.length)
  const ids = Array.from({ length: size }, (_, index) => orderUid(1, index))
  const read = await measureServiceRead(bench.cleanup, service, { ids, seconds: plan.readSeconds, warmupSeconds: plan.warmupSeconds })
  expectAllHits(read.lookups, `read with ${count(size)} cached`)
  add({ group: 'read', name: `service GET /order/:id, ${count(size)} cached`, value: read.load.rps, unit: 'req/s', note: latencyNote(read.load) })
  await service.stop()
}

/** A service that only serves reads: it consumes the empty channel, so nothing is ingested while it is measured. */
function startReadService(bench: Bench, env: Record<string, string> = {}): Promise<RunningService> {
  return startService(bench.cleanup, bench.build, {
    databaseUrl: bench.db.url,
    broker: bench.broker,
    channel: IDLE_CHANNEL,
    durable: 'reader',
    env,
    nodeFlags: bench.serviceFlags,
  })
}

/** RSS a second after readiness, when the start-up's last allocations have been made. */
async function settledRss(service: RunningService): Promise<number> {
  await sleep(1000)
  return readRssBytes(service.pid)
}

function addServiceMemory(add: (row: Row) => void, rss: number, emptyRss: number, orders: number, jsonPerOrder: number): void {
  const perOrder = (rss - emptyRss) / orders
  add({ group: 'memory', name: `service RSS, ${count(orders)} cached`, value: rss / 2 ** 20, unit: 'MiB', note: `at readiness + 1 s; empty table: ${(emptyRss / 2 ** 20).toFixed(1)} MiB` })
  add({
    group: 'memory',
    name: `service RSS per cached order, ${count(orders)}`,
    value: perOrder,
    unit: 'bytes',
    note: `(RSS - RSS with an empty table) / orders; ${ratio(perOrder, jsonPerOrder)} x JSON`,
    target: `< ${TARGETS.memoryOfJson} x JSON: ${verdict(perOrder < TARGETS.memoryOfJson * jsonPerOrder)}`,
  })
}

function expectWarmed(service: RunningService, orders: number): void {
  if (service.warmed.orders !== orders) throw new Error(`the service warmed ${service.warmed.orders} orders, expected ${orders}`)
}

function expectAllHits(lookups: { hit: number; miss: number; absent: number }, what: string): void {
  if (lookups.miss > 0 || lookups.absent > 0 || lookups.hit === 0) throw new Error(`${what}: ${lookups.miss} misses and ${lookups.absent} absent of ${lookups.hit + lookups.miss + lookups.absent} lookups`)
}

/** Latency, and the CPU per request of the server and of wrk over the measured run. */
function latencyNote(load: LoadResult): string {
  const { server, wrk } = load.cpuPerRequest
  const cpu = `CPU per request: ${server === undefined ? '' : `server ${server.toFixed(1)} us, `}wrk ${wrk.toFixed(1)} us`
  return `p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms; ${cpu}`
}

/** The server's CPU per request over that of the ceiling's (bare node:http). */
function cpuOfBare(load: LoadResult, bare: LoadResult): string {
  const { server } = load.cpuPerRequest
  const bareServer = bare.cpuPerRequest.server
  return server === undefined || bareServer === undefined ? '' : `; CPU per request ${ratio(server, bareServer)} x bare's`
}

/** CPU per row of the raw INSERT: PostgreSQL's, and the bench's own sending them. */
function insertCpuNote({ cpuPerRow: cpu }: RawInsertResult): string {
  return `CPU per row: PostgreSQL ${cpu.postgres.toFixed(1)} us, client ${cpu.client.toFixed(1)} us`
}

const count = (n: number): string => n.toLocaleString('en-US')

const verdict = (met: boolean): string => (met ? 'met' : 'MISSED')

/** `a / b` with two decimals, for notes such as "0.85 of ceiling". */
function ratio(a: number, b: number): string {
  return (a / b).toFixed(2)
}

const GROUP_ORDER: Row['group'][] = ['read', 'ingest', 'restore', 'memory']

function sortByGroup(rows: Row[]): Row[] {
  return GROUP_ORDER.flatMap((group) => rows.filter((row) => row.group === group))
}

await main()
