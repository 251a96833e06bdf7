/**
 * The read path: GET /order/:id under wrk (bench/read-service.ts) beside a bare node:http server answering one
 * prebuilt order (the ceiling, bench/lib/bare-server.ts), alternating in rounds so a burst of other work on this
 * shared machine lands on both rather than on one; cached at several table sizes, unknown ids, and read-through.
 * The full run states the targets of issue 6; `--read-only` is the loop for work on the read path, in rounds,
 * with the --env and --baseline variants.
 */
import { orderUid } from '../src/publisher/generate-orders.js'
import { createOrderStore } from '../src/store/orders.js'
import { expectWarmed, startReadService, type Bench, type Variant } from './lib/bench.js'
import { startBareServer } from './lib/bare-server.js'
import { loadOrders } from './lib/load-orders.js'
import { median } from './lib/median.js'
import { count, ratio, verdict } from './lib/report.js'
import type { RunningService } from './lib/service.js'
import { runWrk, type LoadResult } from './lib/wrk.js'
import { describeStatuses, measureServiceRead, type ServiceReadResult } from './read-service.js'

const TARGETS = { ofBare: 0.75, p99Ms: 10, cpuOfBare: 1.2 }

/**
 * With the set stored and `service` holding all of it: the service beside the bare server (rate, CPU per request,
 * p99), then unknown ids; stops it, and reads through a service that caches nothing.
 */
export async function measureReads(bench: Bench, service: RunningService): Promise<void> {
  const { cleanup, set, plan, add } = bench
  const n = count(set.orders.length)
  const ids = set.orders.map((order) => order.orderUid)
  const load = { seconds: plan.readSeconds, warmupSeconds: plan.warmupSeconds }
  const runs = await readRounds(bench, [service], { ids, rounds: plan.readRounds, ...load })
  const bare = medianLoad(runs.map((run) => run.bare))
  const read = medianLoad(runs.map((run) => run.reads[0]!.read.load))
  expectAllHits(runs.map((run) => run.reads[0]!.read.lookups), `read with ${n} cached`)
  const rounds = `median of ${plan.readRounds} alternating rounds of ${plan.readSeconds} s`
  add({ group: 'read', name: 'bare node:http, one prebuilt order (ceiling)', value: bare.rps, unit: 'req/s', note: `wrk 50 conn, 2 threads; ${rounds}; ${latencyNote(bare)}` })
  const ofBare = read.rps / bare.rps
  add({
    group: 'read',
    name: `service GET /order/:id, ${n} cached`,
    value: read.rps,
    unit: 'req/s',
    note: `${ofBare.toFixed(2)} of bare; ${rounds}; ${latencyNote(read)}`,
    target: `≥ ${TARGETS.ofBare} of bare: ${verdict(ofBare >= TARGETS.ofBare)}`,
  })
  const cpuOf = (load: LoadResult) => load.cpuPerRequest.server ?? NaN
  const cpuRatio = cpuOf(read) / cpuOf(bare)
  add({
    group: 'read',
    name: `service CPU per GET /order/:id, ${n} cached`,
    value: cpuOf(read),
    unit: 'us',
    note: `${cpuRatio.toFixed(2)} x bare node:http's ${cpuOf(bare).toFixed(1)} us; ${rounds}`,
    target: `≤ ${TARGETS.cpuOfBare} x bare: ${verdict(cpuRatio <= TARGETS.cpuOfBare)}`,
  })
  add({
    group: 'read',
    name: `service p99, ${n} cached`,
    value: read.p99Ms,
    unit: 'ms',
    note: `p50 ${read.p50Ms.toFixed(2)} ms, max ${read.maxMs.toFixed(0)} ms (bare: p99 ${bare.p99Ms.toFixed(2)} ms, max ${bare.maxMs.toFixed(0)} ms)`,
    target: `< ${TARGETS.p99Ms} ms: ${verdict(read.p99Ms < TARGETS.p99Ms)}`,
  })

  // Ids of the right form that no order has: each is looked up in PostgreSQL once, then remembered as absent for 2 s.
  const unknown = set.orders.map((_, index) => orderUid(0x5eed, index))
  const absent = await measureServiceRead(cleanup, service, { ids: unknown, ...load })
  add({
    group: 'read',
    name: 'service unknown ids (404)',
    value: absent.load.rps,
    unit: 'req/s',
    note: `${n} random unknown ids; ${describeStatuses(absent.statuses)}; ${ratio(absent.load.rps, bare.rps)} of bare; ${latencyNote(absent.load)}`,
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
    note: `CACHE_MAX_BYTES=1024 holds no order: each lookup reads PostgreSQL; ${describeStatuses(through.statuses)}; ${ratio(through.load.rps, bare.rps)} of bare; ${latencyNote(through.load)}`,
  })
  await uncached.stop()
}

/** The service reading random ids among the first `orders` of the set's seed, all of them cached. */
export async function measureCachedRead(bench: Bench, service: RunningService, orders: number): Promise<void> {
  const ids = Array.from({ length: orders }, (_, index) => orderUid(1, index))
  const read = await measureServiceRead(bench.cleanup, service, { ids, seconds: bench.plan.readSeconds, warmupSeconds: bench.plan.warmupSeconds })
  expectAllHits([read.lookups], `read with ${count(orders)} cached`)
  bench.add({ group: 'read', name: `service GET /order/:id, ${count(orders)} cached`, value: read.load.rps, unit: 'req/s', note: latencyNote(read.load) })
}

/**
 * The read loop (--read-only): the bare server, then each service (this build and the variants), in rounds, every
 * service serving the same stored orders from its cache; a row per run, as it ends.
 */
export async function measureReadRounds(bench: Bench, rounds: number, variants: Variant[]): Promise<void> {
  const { db, set, add } = bench
  await db.reset()
  await loadOrders(db, set.orders)
  const services: { label: string; service: RunningService }[] = []
  for (const variant of [{ label: '', build: bench.build, env: {} }, ...variants]) {
    const service = await startReadService(bench, variant.env, variant.build)
    expectWarmed(service, set.orders.length)
    services.push({ label: variant.label, service })
  }
  const ids = set.orders.map((order) => order.orderUid)
  const load = { ids, rounds, seconds: bench.plan.readSeconds, warmupSeconds: bench.plan.warmupSeconds }
  await readRounds(bench, services.map(({ service }) => service), load, (round, { bare, reads }) => {
    add({ group: 'read', name: `round ${round}: bare node:http, one prebuilt order (ceiling)`, value: bare.rps, unit: 'req/s', note: latencyNote(bare) })
    for (const { index, read } of reads) {
      const label = services[index]!.label === '' ? '' : ` ${services[index]!.label}`
      expectAllHits([read.lookups], `round ${round}${label}`)
      add({
        group: 'read',
        name: `round ${round}: service GET /order/:id${label}`,
        value: read.load.rps,
        unit: 'req/s',
        note: `${ratio(read.load.rps, bare.rps)} of bare; ${latencyNote(read.load)}${cpuOfBare(read.load, bare)}`,
      })
    }
  })
}

interface ReadRound {
  bare: LoadResult
  /** Each service's run (`index` in the list given), in the order they ran. */
  reads: { index: number; read: ServiceReadResult }[]
}

/**
 * wrk against the bare server answering the first order, then against each service, in rounds, after an
 * unmeasured run of each (so every server is JIT-compiled and its sockets' buffers grown); `each` sees every round
 * as it ends. The services take turns going first after the bare server: in a fixed order the one going first
 * measured lower in all five rounds of a run, and taking turns, the one going first was the lower in four rounds of six.
 */
async function readRounds(
  bench: Bench,
  services: RunningService[],
  options: { ids: readonly string[]; rounds: number; seconds: number; warmupSeconds: number },
  each: (round: number, result: ReadRound) => void = () => {},
): Promise<ReadRound[]> {
  const { cleanup } = bench
  const body = await createOrderStore(bench.db.sql).findBody(options.ids[0]!)
  if (body === undefined) throw new Error('the first order is not stored')
  const bare = await startBareServer(cleanup, body)
  const paths = options.ids.map((id) => `/order/${id}`)
  const bareRun = async (seconds: number) => {
    const run = await runWrk(cleanup, { baseUrl: bare.baseUrl, paths, seconds, serverPid: bare.pid })
    if (run.non2xx > 0 || run.socketErrors > 0) throw new Error(`bare server: ${run.non2xx} error statuses, ${run.socketErrors} socket errors`)
    return run
  }
  const serviceRun = (service: RunningService, seconds: number) => measureServiceRead(cleanup, service, { ids: options.ids, seconds, warmupSeconds: 0 })
  await bareRun(options.warmupSeconds)
  for (const service of services) await serviceRun(service, options.warmupSeconds)
  const rounds: ReadRound[] = []
  for (let round = 1; round <= options.rounds; round++) {
    const result: ReadRound = { bare: await bareRun(options.seconds), reads: [] }
    for (const index of services.map((_, i) => (i + round - 1) % services.length)) {
      result.reads.push({ index, read: await serviceRun(services[index]!, options.seconds) })
    }
    each(round, result)
    rounds.push(result)
  }
  await bare.stop()
  return rounds
}

/** Each figure's median over the runs, taken separately. */
function medianLoad(runs: LoadResult[]): LoadResult {
  const of = (pick: (run: LoadResult) => number) => median(runs.map(pick))
  const servers = runs.flatMap((run) => (run.cpuPerRequest.server === undefined ? [] : [run.cpuPerRequest.server]))
  return {
    rps: of((run) => run.rps),
    p50Ms: of((run) => run.p50Ms),
    p99Ms: of((run) => run.p99Ms),
    maxMs: Math.max(...runs.map((run) => run.maxMs)),
    requests: runs.reduce((sum, run) => sum + run.requests, 0),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    socketErrors: runs.reduce((sum, run) => sum + run.socketErrors, 0),
    cpuPerRequest: { wrk: of((run) => run.cpuPerRequest.wrk), ...(servers.length === runs.length ? { server: median(servers) } : {}) },
  }
}

/** Throws unless every lookup of the runs was a cache hit. */
function expectAllHits(runs: ServiceReadResult['lookups'][], what: string): void {
  const [hit, miss, absent] = (['hit', 'miss', 'absent'] as const).map((key) => runs.reduce((sum, run) => sum + run[key], 0)) as [number, number, number]
  if (miss > 0 || absent > 0 || hit === 0) throw new Error(`${what}: ${miss} misses and ${absent} absent of ${hit + miss + absent} lookups`)
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
