import { setTimeout as sleep } from 'node:timers/promises'
import { refusingPort } from '../../test/support/ports.js'
import { startTcpProxy } from '../../test/support/tcp-proxy.js'
import type { Scenario } from '../lib/harness.js'

/** A server list whose first server refuses connections: the service takes the next one, at start and after. */
export const serverListRefusing: Scenario = {
  name: 'server-list-refusing',
  // NATS Streaming's own client behaviour (server lists, client ids, queue groups, pings); JetStream's is tested in test/ingest/jetstream-*.
  transports: ['stan'],
  summary: 'STAN_URL lists a server that refuses connections first, then the broker; the service SIGKILLed and restarted twice',
  async run(ctx) {
    ctx.service.setEnv({ STAN_URL: `nats://127.0.0.1:${await refusingPort()},${ctx.broker.url}` })
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.sizes.rate })
    // Each start walks the list again from its refusing first server.
    for (let k = 0; k < 2; k++) {
      await ctx.pause(300, 800)
      await ctx.service.kill()
      ctx.fault('SIGKILL service')
      await ctx.service.startReady()
    }
    await publishing.done
  },
}

/**
 * The service reaches the broker through two addresses (two TCP proxies: the embedded broker is not clustered);
 * the one it is connected to goes away mid-ingest and it moves to the other; later that one goes too while the
 * first is back on its port, and it moves back.
 */
export const serverAddressGone: Scenario = {
  name: 'server-address-gone',
  // NATS Streaming's own client behaviour (server lists, client ids, queue groups, pings); JetStream's is tested in test/ingest/jetstream-*.
  transports: ['stan'],
  summary: 'the broker address the service is connected to goes away mid-ingest (two TCP proxies, one closed, then the other)',
  async run(ctx) {
    const target = { host: '127.0.0.1', port: Number(new URL(ctx.broker.url).port) }
    let first = await startTcpProxy(target)
    const second = await startTcpProxy(target)
    // The accounting after the run still needs the service connected: the proxies go with the scenario's processes.
    ctx.scope.defer('proxies', async () => {
      await first.close()
      await second.close()
    })
    ctx.service.setEnv({ STAN_URL: `${first.url},${second.url}`})
    await ctx.service.startReady()
    const messages = ctx.mix(ctx.sizes.valid, ctx.sizes.hostile)
    const publishing = ctx.publishInBackground(messages, { rate: ctx.sizes.rate })
    const publishedFrom = performance.now()
    // What was delivered and not yet acked at a move comes again: the backlog then says how many duplicates to expect.
    const backlog = async () => {
      const published = Math.min(messages.length, Math.round(((performance.now() - publishedFrom) / 1000) * ctx.sizes.rate))
      return `about ${published} published, ${(await ctx.rowsWritten()) ?? '?'} written`
    }
    await ctx.pause(300, 800)
    const before = [first.connections(), second.connections()]
    const atFirstMove = await backlog()
    await first.close()
    ctx.fault('connected address closed')
    const moved = await within(30_000, () => second.connections() === 1)
    await ctx.service.waitReady(30_000)
    // The first address may briefly carry a second connection at start-up: the old durable's removal (STAN_LEGACY_CLIENT_ID).
    ctx.check('it was on the first address, then moved to the second', before[0]! >= 1 && before[1] === 0 && moved, `before ${before.join('/')}, then ${second.connections()} on the second`)

    await ctx.pause(300, 800)
    first = await startTcpProxy(target, first.port)
    const atSecondMove = await backlog()
    await second.close()
    ctx.fault('connected address closed')
    const back = await within(30_000, () => first.connections() === 1)
    await ctx.service.waitReady(30_000)
    ctx.check('it moved back to the first address when the second went', back, `first address has ${first.connections()} connections`)
    ctx.note(`at the first move ${atFirstMove}; at the second ${atSecondMove}`)
    await publishing.done
  },
}

/** True once `condition` holds, false if it does not within `ms`. */
async function within(ms: number, condition: () => boolean): Promise<boolean> {
  for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(50)) if (condition()) return true
  return condition()
}
