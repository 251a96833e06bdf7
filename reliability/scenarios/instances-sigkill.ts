import type { Scenario } from '../lib/harness.js'

/**
 * Three instances share the channel (one durable queue group on NATS Streaming, one durable pull consumer on
 * JetStream) while random ones are SIGKILLed and started again: what a killed instance held goes to the others,
 * or back to it: on NATS Streaming when the broker replaces its dead connection (same client id each, as a
 * restarted container keeps its host name), on JetStream after the ack wait. Every order is then served by all three.
 */
export const instancesSigkill: Scenario = {
  name: 'instances-sigkill',
  summary: 'three instances sharing the channel, random ones SIGKILLed and restarted during ingest',
  async run(ctx) {
    await ctx.addInstance()
    await ctx.addInstance()
    const instances = ctx.instances()
    await Promise.all(instances.map((instance) => instance.startReady()))
    const { kills } = ctx.sizes
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.rateFor(messages.length, kills * 1.5) })
    let duringIngest = 0
    for (let k = 0; k < kills; k++) {
      await ctx.pause(200, 1_500)
      const victim = instances[ctx.random.int(0, instances.length - 1)]!
      if (!publishing.isDone() || ((await ctx.rowsWritten()) ?? 0) < messages.length) duringIngest++
      await victim.kill()
      ctx.fault('SIGKILL of an instance')
      // Not waiting for readiness: another kill may land while it starts.
      victim.start()
    }
    await publishing.done
    await Promise.all(instances.map((instance) => instance.waitReady()))
    await ctx.waitForDrain()
    await Promise.all(instances.map((instance) => instance.scrape()))
    // Up to the last scrape of each life: a SIGKILL can take the final few hundred milliseconds of a life's count.
    const shares = instances.map((instance) => instance.ordersStored())
    ctx.check('every instance stored a share of the orders', shares.every((share) => share > 0), `stored per instance (as scraped) ${shares.join(' / ')}`)
    ctx.note(`${duringIngest} of ${kills} kills while messages were still arriving or being written; orders stored per instance (as scraped) ${shares.join(' / ')}`)
  },
}
