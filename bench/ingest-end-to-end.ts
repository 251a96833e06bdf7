/**
 * Ingest end to end (bench/ingest-service.ts: broker, gate, writer, PostgreSQL, cache), beside the raw INSERT
 * ceiling taken seconds before it: from a backlog published before the service starts, and live, with a publisher
 * at full speed meanwhile; by batch size, and with two instances in one queue group. The full run states the
 * targets of issue 6; `--ingest-only` is the loop for work on the ingest path, in rounds, with the --env and
 * --baseline variants and, with --jetstream, on JetStream as well.
 */
import { insertCpuNote, rawInsert } from './ingest-raw-insert.js'
import { serviceIngestRate, type ServiceIngestOptions, type ServiceIngestResult } from './ingest-service.js'
import { CEILING_BATCH, ORDERS_CHANNEL, ownFeed, type Bench, type Variant } from './lib/bench.js'
import type { BenchBroker } from './lib/broker.js'
import { BENCH_SUBJECT, jetStreamEnv } from './lib/nats-server.js'
import { publishOrders } from './lib/publish.js'
import { count, ratio, verdict } from './lib/report.js'

/** The service's default STAN_MAX_IN_FLIGHT: a batch larger than it could never fill (see the full run's). */
const DEFAULT_MAX_IN_FLIGHT = 4096

const TARGETS = { rate: 15_000, ofCeiling: 0.6, liveOfCeiling: 0.75 }

/**
 * Publishes the orders once, while no service consumes; then each run starts a service on an empty table with
 * a new durable (so it takes the channel from its first message) and times its ingest. The default batch size
 * runs last, so its run leaves every order stored for the measurements after it.
 */
export async function measureIngestEndToEnd(bench: Bench): Promise<void> {
  const { set, plan, add } = bench
  const published = await publishOrders(bench.cleanup, bench.broker, { channel: ORDERS_CHANNEL, count: set.orders.length, seed: 1 })
  console.error(`  published ${count(published.acked)} orders (${Math.round(published.bytes / published.acked)} B each) in ${Math.round(published.ms)} ms`)

  // A batch can only fill when the broker may have that many messages out: in flight at least twice the batch,
  // so the next batch gathers while one is written (at the default batch size this is the default, 4096).
  const inFlight = (batch: number) => Math.max(DEFAULT_MAX_IN_FLIGHT, 2 * batch)
  const ingest = (batch: number, round = 1) =>
    backlogIngest(bench, bench.broker, `ingest-batch-${batch}-${round}`, { env: { BATCH_MAX_SIZE: String(batch), STAN_MAX_IN_FLIGHT: String(inFlight(batch)) } })
  const describe = (result: ServiceIngestResult, batch: number) =>
    `${count(set.orders.length)} pre-published; from the first transaction's start to the last's; mean batch ${Math.round(result.meanBatch)}` +
    `; in flight ${inFlight(batch)}; ${(result.totalMs / 1000).toFixed(1)} s from spawn; ${cpuNote(result)}`

  for (const batch of plan.serviceBatchSizes) {
    const result = await ingest(batch)
    add({ group: 'ingest', name: `service end to end, BATCH_MAX_SIZE ${batch}`, value: result.rate, unit: 'orders/s', note: describe(result, batch) })
  }
  // Two instances in one queue group beside one (the rounds below): on two cores they share the same CPU.
  const two = await backlogIngest(bench, bench.broker, 'ingest-two-instances', { instances: 2 })
  add({ group: 'ingest', name: `two service instances in one queue group, default BATCH_MAX_SIZE ${CEILING_BATCH}`, value: two.rate, unit: 'orders/s', note: instancesNote(two) })

  // The target: the service at its defaults beside the ceiling, alternately, each pair seconds apart, so the
  // ratio holds on a machine whose speed drifts; the default batch size runs last, leaving every order stored.
  const pairs: { ceiling: number; result: ServiceIngestResult; live: ServiceIngestResult }[] = []
  for (let round = 1; round <= plan.ingestRounds; round++) {
    const ceilingNow = await rawInsert(bench.db, set.orders, CEILING_BATCH)
    const live = await liveIngest(bench, { label: '', build: bench.build, env: {} }, String(round), bench.broker)
    pairs.push({ ceiling: ceilingNow.rowsPerSecond, result: await ingest(CEILING_BATCH, round), live })
  }
  const medianBy = (rate: (pair: (typeof pairs)[number]) => number) =>
    pairs.toSorted((a, b) => rate(a) / a.ceiling - rate(b) / b.ceiling)[Math.floor(pairs.length / 2)]!
  const liveRatios = pairs.map((pair) => pair.live.rate / pair.ceiling)
  const liveMedian = medianBy((pair) => pair.live.rate)
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
  const median = medianBy((pair) => pair.result.rate)
  const ratios = pairs.map((pair) => ratio(pair.result.rate, pair.ceiling)).join(', ')
  const met = median.result.rate >= TARGETS.rate && median.result.rate / median.ceiling >= TARGETS.ofCeiling
  add({
    group: 'ingest',
    name: `service end to end (broker, gate, writer, cache), default BATCH_MAX_SIZE ${CEILING_BATCH}`,
    value: median.result.rate,
    unit: 'orders/s',
    note:
      `the round of median ratio of ${pairs.length} (ceiling then service, alternately: ${ratios}); ` +
      `its ceiling ${Math.round(median.ceiling)} rows/s; ${describe(median.result, CEILING_BATCH)}`,
    target: `≥ ${count(TARGETS.rate)}/s and ≥ ${TARGETS.ofCeiling} of ceiling: ${verdict(met)}`,
  })
}

/**
 * The ingest loop (--ingest-only): the raw INSERT ceiling and the service end to end, backlog and live,
 * alternately, so each ratio compares two figures taken seconds apart. Each service round uses a new durable, so
 * it takes the channel from its start.
 */
export async function measureIngestRounds(bench: Bench, rounds: number, variants: Variant[], nats: BenchBroker | undefined, instances: number): Promise<void> {
  const { db, set, add } = bench
  await rawInsert(db, set.orders.slice(0, Math.ceil(set.orders.length / 20)), CEILING_BATCH)
  await publishOrders(bench.cleanup, bench.broker, { channel: ORDERS_CHANNEL, count: set.orders.length, seed: 1 })
  // The same orders (same seed) on JetStream, published as bin/publish does, with message ids.
  if (nats !== undefined) await publishOrders(bench.cleanup, nats, { channel: BENCH_SUBJECT, count: set.orders.length, seed: 1 })
  const services = [{ label: '', build: bench.build, env: {} }, ...variants]
  const transports = [
    { broker: bench.broker, name: '', live: ', published live', cpu: (note: string) => note },
    ...(nats === undefined ? [] : [{ broker: nats, name: ' on JetStream (nats-server, file store)', live: ' on JetStream, published live', cpu: (note: string) => note.replace('broker', 'nats-server') }]),
  ]
  for (let round = 1; round <= rounds; round++) {
    const ceilingRun = await rawInsert(db, set.orders, CEILING_BATCH)
    const ceiling = ceilingRun.rowsPerSecond
    add({ group: 'ingest', name: `round ${round}: raw multi-row INSERT, ${CEILING_BATCH} rows (ceiling)`, value: ceiling, unit: 'rows/s', note: insertCpuNote(ceilingRun) })
    const row = (name: string, result: ServiceIngestResult, note: string) =>
      add({ group: 'ingest', name: `round ${round}: ${name}`, value: result.rate, unit: 'orders/s', note: `${ratio(result.rate, ceiling)} of ceiling; ${note}` })
    for (const [t, transport] of transports.entries()) {
      for (const [i, variant] of services.entries()) {
        const label = variant.label === '' ? '' : ` ${variant.label}`
        const result = await backlogIngest(bench, transport.broker, `ingest-round-${round}-${i}`, { build: variant.build, env: variant.env })
        row(`service end to end${transport.name}${label}`, result, `mean batch ${Math.round(result.meanBatch)}; ${transport.cpu(cpuNote(result))}`)
        // Last on JetStream this round: it empties the stream, then leaves it holding the orders it published live.
        const live = await liveIngest(bench, variant, `${round}-${i}`, transport.broker)
        row(`service end to end${transport.live}${label}`, live, `mean batch ${Math.round(live.meanBatch)}; ${transport.cpu(cpuNote(live))}`)
      }
      if (t === 0 && instances > 1) {
        const result = await backlogIngest(bench, bench.broker, `ingest-round-${round}-instances`, { instances })
        row(`${instances} service instances in one queue group`, result, instancesNote(result))
      }
    }
  }
}

/**
 * A service run taking the orders the broker holds from the start, through a durable (on JetStream a consumer)
 * of its own.
 */
function backlogIngest(bench: Bench, broker: BenchBroker, durable: string, options: Pick<ServiceIngestOptions, 'env' | 'instances'> & { build?: Bench['build'] }): Promise<ServiceIngestResult> {
  const env = broker.clusterId === '' ? { ...options.env, ...jetStreamEnv(broker, durable) } : options.env
  return serviceIngestRate(bench.cleanup, bench.db, options.build ?? bench.build, broker, {
    channel: ORDERS_CHANNEL,
    count: bench.set.orders.length,
    durable,
    env,
    instances: options.instances,
    nodeFlags: bench.serviceFlags,
  })
}

let liveRuns = 0

/**
 * The service ingesting while a publisher sends the orders at full speed, into a channel (or the emptied stream) of
 * its own. Each run publishes orders of a seed of its own.
 */
async function liveIngest(bench: Bench, variant: Variant, name: string, broker: BenchBroker): Promise<ServiceIngestResult> {
  const durable = `live-${name}`
  const seed = 1000 + ++liveRuns
  const feed = await ownFeed(broker, durable, variant.env)
  return serviceIngestRate(bench.cleanup, bench.db, variant.build, broker, {
    channel: feed.channel,
    count: bench.set.orders.length,
    durable,
    env: feed.env,
    nodeFlags: bench.serviceFlags,
    live: { publishTo: feed.publishTo, seed },
  })
}

/** CPU per order of each process of the pipeline (and of the publisher, when it published live), in microseconds. */
function cpuNote({ cpuPerOrder: cpu }: ServiceIngestResult): string {
  const publisher = cpu.publisher === undefined ? '' : `; publisher ${cpu.publisher.toFixed(1)} us`
  return `CPU per order: service ${cpu.service.toFixed(1)} us, broker ${cpu.broker.toFixed(1)} us, PostgreSQL ${cpu.postgres.toFixed(1)} us${publisher}`
}

/** Mean batch, each instance's share and the CPU per order of a multi-instance run. */
function instancesNote(result: ServiceIngestResult): string {
  return `mean batch ${Math.round(result.meanBatch)}; stored per instance ${result.storedBy.join(' / ')}; ${cpuNote(result)} (the instances together)`
}
