/**
 * Child process for bench/lib/publish.ts: publishes `COUNT` generated orders (seed `SEED`, as bin/publish sends
 * them: the order's JSON.stringify) to `CHANNEL`, waits for every PubAck, and reports over IPC. A process of its
 * own so publishing does not share the harness's event loop; it runs while no service is consuming.
 *   STAN_URL=... STAN_CLUSTER_ID=... CHANNEL=orders COUNT=100000 SEED=1 node --import tsx bench/lib/publish-process.ts
 */
import { generateOrders } from '../../src/publisher/generate-orders.js'
import { close, connect, publishAll } from '../../src/publisher/stan-publisher.js'

export interface PublishReport {
  acked: number
  failed: number
  bytes: number
  ms: number
}

const { STAN_URL: url, STAN_CLUSTER_ID: clusterId, CHANNEL: channel } = process.env
const count = Number(process.env.COUNT)
const seed = Number(process.env.SEED)
if (!url || !clusterId || !channel || !Number.isInteger(count) || !Number.isInteger(seed)) {
  throw new Error('STAN_URL, STAN_CLUSTER_ID, CHANNEL, COUNT and SEED are required')
}

const connected = await connect({ servers: [url], clusterId, clientId: `bench-publish-${process.pid}` })
if (!connected.ok) throw new Error(`cannot connect to the broker: ${connected.error}`)
let bytes = 0
function* payloads(): Generator<Buffer> {
  for (const order of generateOrders(count, seed)) {
    const payload = Buffer.from(JSON.stringify(order))
    bytes += payload.byteLength
    yield payload
  }
}
const started = performance.now()
const tally = await publishAll(connected.client, payloads(), { channel, inFlight: 4096 })
const ms = performance.now() - started
await close(connected)
const report: PublishReport = { acked: tally.acked, failed: tally.failed, bytes, ms }
process.send?.(report)
process.disconnect?.()
