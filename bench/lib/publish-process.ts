/**
 * Child process for bench/lib/publish.ts: publishes `COUNT` generated orders (seed `SEED`, as bin/publish sends
 * them: the order's JSON.stringify) to `CHANNEL`, waits for every PubAck, and reports over IPC. A process of its
 * own so publishing does not share the harness's event loop; for the throughput figures it runs while no service
 * is consuming.
 * With NATS_URL instead of STAN_URL it publishes to JetStream, CHANNEL being the subject, as bin/publish does.
 * With RATE (orders per second) it publishes at that steady pace instead of as fast as acks come back, and reports
 * when the broker acked each order (bench/ingest-latency.ts).
 *   STAN_URL=... STAN_CLUSTER_ID=... CHANNEL=orders COUNT=100000 SEED=1 node --import tsx bench/lib/publish-process.ts
 */
import { generateOrders } from '../../src/publisher/generate-orders.js'
import * as jetStream from '../../src/publisher/jetstream-publisher.js'
import type { PublishTally } from '../../src/publisher/publish-loop.js'
import { close, connect, publishAll } from '../../src/publisher/stan-publisher.js'

export interface PublishReport {
  acked: number
  failed: number
  bytes: number
  ms: number
  /** When the first publish was sent, in milliseconds since the epoch (performance.timeOrigin + performance.now()). */
  startedAt: number
  /** CPU seconds (user + system) this process spent from its first publish to its last ack. */
  cpuSeconds: number
  /**
   * With RATE: when the broker acked each order, by its index, in milliseconds since the epoch at sub-millisecond
   * resolution (performance.timeOrigin + performance.now(), comparable with the harness's own clock); null if it failed.
   */
  ackedAt?: (number | null)[]
}

const { STAN_URL: url, STAN_CLUSTER_ID: clusterId, NATS_URL: natsUrl, CHANNEL: channel } = process.env
const count = Number(process.env.COUNT)
const seed = Number(process.env.SEED)
const rate = process.env.RATE === undefined ? undefined : Number(process.env.RATE)
if ((!natsUrl && (!url || !clusterId)) || !channel || !Number.isInteger(count) || !Number.isInteger(seed) || (rate !== undefined && !(rate > 0))) {
  throw new Error('STAN_URL and STAN_CLUSTER_ID (or NATS_URL), CHANNEL, COUNT and SEED are required; RATE, if given, above 0')
}

let bytes = 0
function* payloads(): Generator<Buffer> {
  for (const order of generateOrders(count, seed)) {
    const payload = Buffer.from(JSON.stringify(order))
    bytes += payload.byteLength
    yield payload
  }
}
const ackedAt: (number | null)[] | undefined = rate === undefined ? undefined : new Array<number | null>(count).fill(null)
const pace = {
  inFlight: 4096,
  ...(rate === undefined ? {} : { rate }),
  ...(ackedAt === undefined ? {} : { onSettle: (index: number, failure: string | undefined) => (ackedAt[index] = failure === undefined ? performance.timeOrigin + performance.now() : null) }),
}
const started = performance.now()
const cpuBefore = process.cpuUsage()
let tally: PublishTally
if (natsUrl) {
  const connected = await jetStream.connect({ servers: [natsUrl], name: `bench-publish-${process.pid}` })
  if (!connected.ok) throw new Error(`cannot connect to nats-server: ${connected.error}`)
  tally = await jetStream.publishAll(connected.js, connected.nc, payloads(), { subject: channel, ...pace })
  await jetStream.close(connected.nc)
} else {
  const connected = await connect({ servers: [url!], clusterId: clusterId!, clientId: `bench-publish-${process.pid}` })
  if (!connected.ok) throw new Error(`cannot connect to the broker: ${connected.error}`)
  tally = await publishAll(connected.client, payloads(), { channel, ...pace })
  await close(connected)
}
const ms = performance.now() - started
const cpu = process.cpuUsage(cpuBefore)
const report: PublishReport = {
  acked: tally.acked,
  failed: tally.failed,
  bytes,
  ms,
  startedAt: performance.timeOrigin + started,
  cpuSeconds: (cpu.user + cpu.system) / 1e6,
  ...(ackedAt === undefined ? {} : { ackedAt }),
}
// Disconnecting only once the report is written: a large one (the ack times) could otherwise be cut off.
process.send?.(report, () => process.disconnect?.())
