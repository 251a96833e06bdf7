import stan from 'node-nats-streaming'

export interface DurableProbe {
  url: string
  clusterId: string
  clientId: string
  channel: string
  durableName: string
  /** The service's durable queue group; the probe joins it as its only member while the service is stopped. */
  queueGroup: string
  ackWaitMs: number
}

/**
 * Joins the service's durable queue group itself, with the service's client id (the service must be stopped), and
 * counts what the broker delivers within ackWait + 1 s: anything is a message the service never acked. Then closes
 * without unsubscribing and without acking, so the durable is left exactly as it was found.
 */
export function pendingOnDurable(probe: DurableProbe): Promise<{ pending: number; sequences: number[] } | { error: string }> {
  return new Promise((resolve) => {
    const connection = stan.connect(probe.clusterId, probe.clientId, { url: probe.url, reconnect: false, maxReconnectAttempts: 0 })
    const sequences: number[] = []
    let settled = false
    const finish = (result: { pending: number; sequences: number[] } | { error: string }) => {
      if (settled) return
      settled = true
      resolve(result)
    }
    connection.on('error', (error: unknown) => finish({ error: String(error) }))
    connection.on('connect', () => {
      const options = connection
        .subscriptionOptions()
        .setDeliverAllAvailable()
        .setDurableName(probe.durableName)
        .setManualAckMode(true)
        .setMaxInFlight(1024)
        .setAckWait(probe.ackWaitMs)
      const subscription = connection.subscribe(probe.channel, probe.queueGroup, options)
      subscription.on('error', (error: unknown) => finish({ error: String(error) }))
      subscription.on('message', (message: { getSequence(): number }) => sequences.push(message.getSequence()))
      subscription.on('ready', () => {
        setTimeout(() => {
          subscription.on('closed', () => connection.close())
          connection.on('close', () => finish({ pending: new Set(sequences).size, sequences: [...new Set(sequences)].slice(0, 20) }))
          subscription.close()
        }, probe.ackWaitMs + 1_000)
      })
    })
    setTimeout(() => {
      finish({ error: 'the durable check timed out' })
      connection.close()
    }, probe.ackWaitMs + 20_000).unref()
  })
}
