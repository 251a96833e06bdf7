import { Agent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Scenario, ScenarioContext } from '../lib/harness.js'
import { httpGet } from '../lib/http.js'
import type { Outgoing } from '../lib/ledger.js'
import { republished } from '../lib/messages.js'
import { publish } from '../lib/publisher.js'
import type { ScenarioBroker } from '../lib/transport.js'

const DRAIN_BOUND_MS = 60_000
const READ_EVERY_MS = 100
/** Orders read again and again through both instances while the publishers switch. */
const READ_SAMPLE = 20

/**
 * The move from NATS Streaming to JetStream (docs/operations.md): an instance on JetStream starts beside the one
 * on NATS Streaming, on one PostgreSQL; the publishers switch one after the other (for a while some publish to
 * each broker, and some orders reach both: a publisher that retried after switching); the NATS Streaming group
 * drains, as its monitoring endpoint shows, and its instance stops. Every order stored once, every bad message
 * dead-lettered once, nothing pending on either broker, and reads served throughout by both instances.
 */
export const stanToJetStream: Scenario = {
  name: 'stan-to-jetstream',
  summary: 'move from NATS Streaming to JetStream: both instances on one database, publishers switch, STAN drains and stops',
  transports: ['jetstream'],
  async run(ctx) {
    const stan = await ctx.scope.otherBroker()
    const stanInstance = await ctx.scope.instanceOn(stan, 'stan')
    await stanInstance.startReady()
    // The new instance starts beside the old one.
    await ctx.service.startReady()

    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const quarter = Math.ceil(messages.length / 4)
    const [before, stillOnStan, alreadyOnJetStream, after] = [0, 1, 2, 3].map((i) => messages.slice(i * quarter, (i + 1) * quarter)) as [Outgoing[], Outgoing[], Outgoing[], Outgoing[]]
    const onStan = (batch: readonly Outgoing[]) => publish(stan, ctx.settings, ctx.ledger, batch, { rate: ctx.sizes.rate })

    await onStan(before)
    await ctx.waitForDrain()
    const reads = readThroughout(ctx, before, [ctx.service.port, stanInstance.port])
    // Publishers switch one at a time: for a while some still publish to NATS Streaming, some already to JetStream.
    await Promise.all([onStan(stillOnStan), ctx.publish(alreadyOnJetStream, { rate: ctx.sizes.rate })])
    // The last ones switch; some re-send to JetStream what NATS Streaming had already taken (no ack seen): absorbed.
    const resent = republished(stillOnStan.slice(-Math.max(10, Math.floor(stillOnStan.length / 10))))
    await ctx.publish([...after, ...resent], { rate: ctx.sizes.rate })

    const drained = await stanGroupDrained(stan, ctx.settings)
    ctx.check('NATS Streaming group drained (monitoring: pending_count 0, last_sent = last_seq)', drained.ok, drained.detail)
    const served = await reads.stop()
    ctx.check('reads served throughout by both instances', served.failed === 0, `${served.failed} of ${served.reads} failed${served.firstFailure === undefined ? '' : `: ${served.firstFailure}`}`)
    const life = await stanInstance.terminate()
    ctx.check('the NATS Streaming instance stopped gracefully', life !== undefined && life.status.code === 0 && life.forced !== true, life ? `exit ${life.status.code ?? life.status.signal} in ${life.stopMs} ms` : 'not running')
    ctx.check('the NATS Streaming instance never exited on its own', stanInstance.crashes().length === 0)
    const probe = await stan.pending(ctx.settings)
    ctx.check('nothing pending on the NATS Streaming durable', 'pending' in probe && probe.pending === 0, 'error' in probe ? probe.error : probe.pending > 0 ? `sequences ${probe.sequences.join(', ')}` : '')
    ctx.note(
      `${before.length + stillOnStan.length} messages published to NATS Streaming, ${alreadyOnJetStream.length + after.length} to JetStream, ` +
        `${resent.length} orders sent to both; ${served.reads} reads during the switch; STAN drained ${drained.ms} ms after the last publish`,
    )
  },
}

/**
 * What an operator reads on NATS Streaming's monitoring endpoint before stopping the old instances: every
 * subscription of the service's durable queue group has nothing unacknowledged (pending_count 0), and the group
 * was sent the channel's last message (last_sent = last_seq). Asked every 200 ms up to DRAIN_BOUND_MS.
 */
async function stanGroupDrained(stan: ScenarioBroker, settings: ScenarioContext['settings']): Promise<{ ok: boolean; detail: string; ms: number }> {
  const started = performance.now()
  const url = `${stan.monitorUrl}/streaming/channelsz?channel=${settings.channel}&subs=1`
  let detail = 'no answer'
  while (performance.now() - started < DRAIN_BOUND_MS) {
    try {
      const channel = (await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).json()) as ChannelMonitor
      const group = (channel.subscriptions ?? []).filter((sub) => sub.queue_name === `${settings.durable}:${settings.queueGroup}`)
      const lastSent = Math.max(0, ...group.map((sub) => sub.last_sent))
      detail = `last_seq ${channel.last_seq}, group last_sent ${lastSent}, pending ${group.map((sub) => sub.pending_count).join('/')}`
      if (group.length > 0 && group.every((sub) => sub.pending_count === 0) && lastSent === channel.last_seq) {
        return { ok: true, detail, ms: Math.round(performance.now() - started) }
      }
    } catch (error) {
      detail = (error as Error).message
    }
    await sleep(200)
  }
  return { ok: false, detail, ms: Math.round(performance.now() - started) }
}

interface ChannelMonitor {
  last_seq: number
  subscriptions?: { queue_name?: string; last_sent: number; pending_count: number }[]
}

/** Reads a sample of stored orders through every port until stopped; counts what did not answer 200. */
function readThroughout(ctx: ScenarioContext, stored: readonly Outgoing[], ports: readonly number[]) {
  const uids = stored.flatMap((message) => (message.expect.kind === 'order' ? [message.expect.orderUid] : []))
  const sample = Array.from({ length: Math.min(READ_SAMPLE, uids.length) }, (_, i) => uids[Math.floor((i * uids.length) / Math.min(READ_SAMPLE, uids.length))]!)
  const agent = new Agent({ keepAlive: true, maxSockets: 8 })
  const tally = { reads: 0, failed: 0, firstFailure: undefined as string | undefined }
  let reading = true
  const loop = (async () => {
    while (reading) {
      await Promise.all(
        sample.flatMap((uid) =>
          ports.map(async (port) => {
            const result = await httpGet(port, `/order/${uid}`, { agent, timeoutMs: 5_000 })
            tally.reads++
            if (result.status !== 200) {
              tally.failed++
              tally.firstFailure ??= `port ${port} /order/${uid}: ${result.status}`
            }
          }),
        ),
      )
      await sleep(READ_EVERY_MS)
    }
  })()
  ctx.note(`reading ${sample.length} orders through ${ports.length} instances during the switch`)
  return {
    async stop() {
      reading = false
      await loop
      agent.destroy()
      return tally
    },
  }
}
