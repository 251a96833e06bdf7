/**
 * Child process for bench/lib/publish.ts: publishes `COUNT` generated orders (seed `SEED`, as bin/publish sends
 * them: the order's JSON.stringify) to `CHANNEL`, waits for every PubAck, and reports over IPC. A process of its
 * own so publishing does not share the harness's event loop; it runs while no service is consuming.
 * With NATS_URL instead of STAN_URL it publishes to JetStream, CHANNEL being the subject, as bin/publish does.
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
}

const { STAN_URL: url, STAN_CLUSTER_ID: clusterId, NATS_URL: natsUrl, CHANNEL: channel } = process.env
const count = Number(process.env.COUNT)
const seed = Number(process.env.SEED)
if ((!natsUrl && (!url || !clusterId)) || !channel || !Number.isInteger(count) || !Number.isInteger(seed)) {
  throw new Error('STAN_URL and STAN_CLUSTER_ID (or NATS_URL), CHANNEL, COUNT and SEED are required')
}

let bytes = 0
function* payloads(): Generator<Buffer> {
  for (const order of generateOrders(count, seed)) {
    const payload = Buffer.from(JSON.stringify(order))
    bytes += payload.byteLength
    yield payload
  }
}
const started = performance.now()
let tally: PublishTally
if (natsUrl) {
  const connected = await jetStream.connect({ servers: [natsUrl], name: `bench-publish-${process.pid}` })
  if (!connected.ok) throw new Error(`cannot connect to nats-server: ${connected.error}`)
  tally = await jetStream.publishAll(connected.js, connected.nc, payloads(), { subject: channel, inFlight: 4096 })
  await jetStream.close(connected.nc)
} else {
  const connected = await connect({ servers: [url!], clusterId: clusterId!, clientId: `bench-publish-${process.pid}` })
  if (!connected.ok) throw new Error(`cannot connect to the broker: ${connected.error}`)
  tally = await publishAll(connected.client, payloads(), { channel, inFlight: 4096 })
  await close(connected)
}
const ms = performance.now() - started
const report: PublishReport = { acked: tally.acked, failed: tally.failed, bytes, ms }
process.send?.(report)
process.disconnect?.()
