import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { spawnProcess } from '../../../src/child-process.js'
import { brokerForSuite, close, connect, publishAll, roundTrip, subscribe, unique } from './broker.js'

const clientScript = fileURLToPath(new URL('./durable-client.ts', import.meta.url))
/** Under the 500 ms the real server waits for a registered client to answer before letting its ID go. */
const CONNECT_FASTER_THAN_DUPLICATE_CHECK_MS = 400
/** The client's start-up (tsx) and its acks take a few seconds at most. */
const BOUND_MS = 20_000

describe('Client ID takeover after kill -9', () => {
  const broker = brokerForSuite()

  it('When a client process is killed with SIGKILL, then a new connection with its ID is accepted at once, inside a connect timeout shorter than the 500 ms duplicate check, and resumes its durable after the last ack', async () => {
    const id = unique('svc')
    const channel = unique('orders')
    const child = spawnProcess(process.execPath, ['--import', 'tsx', clientScript, broker.url, broker.clusterId, id, channel], { output: 'inherit' })
    const printed = (line: string) => child.line((text) => text === line, BOUND_MS)
    try {
      await printed('ready')
      const publisher = await connect(broker, unique('pub'))
      const acked = printed('acked 3')
      await publishAll(publisher, channel, ['1', '2', '3'])
      await acked

      await child.stop('SIGKILL', BOUND_MS)
      // Still registered, the dead client is sent these; its successor gets them as redeliveries.
      await publishAll(publisher, channel, ['4', '5'])

      // The old connection is gone, so the server's check of it finds no responders (as nats.go's request in the
      // real server does) and the new one is accepted at once, not after waiting 500 ms for an answer.
      const successor = await connect(broker, id, { connectTimeout: CONNECT_FASTER_THAN_DUPLICATE_CHECK_MS })
      const resumed = await subscribe(successor, channel, successor.subscriptionOptions().setDurableName('svc').setDeliverAllAvailable())
      await resumed.count(2)
      await roundTrip(successor)
      expect(resumed.data).toEqual(['4', '5'])
      await close(successor)
      await close(publisher)
    } finally {
      child.signal('SIGKILL')
    }
  })
})
