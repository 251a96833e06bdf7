/** Request/reply from the server to clients (heartbeats), over one wildcard reply subscription. */
import type { NatsServer, Subscription as NatsSubscription } from '../nats/server.js'
import type { Nuid } from './nuid.js'

export class Requester {
  private readonly prefix: string
  private readonly waiting = new Map<string, (answered: boolean) => void>()
  private readonly subscription: NatsSubscription
  private counter = 0

  constructor(private readonly nats: NatsServer, nuid: Nuid) {
    this.prefix = `${nuid.inbox()}.`
    this.subscription = nats.subscribe(`${this.prefix}*`, (msg) => {
      this.waiting.get(msg.subject)?.(true)
    })
  }

  /**
   * Resolves true when `subject` answers within `timeoutMs`, false otherwise: at once when no one
   * subscribes to it, as the real server's nats.go requests fail with "no responders".
   */
  request(subject: string, data: Uint8Array, timeoutMs: number): Promise<boolean> {
    const reply = this.prefix + (++this.counter).toString(36)
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), timeoutMs)
      const settle = (answered: boolean) => {
        clearTimeout(timer)
        this.waiting.delete(reply)
        resolve(answered)
      }
      this.waiting.set(reply, settle)
      if (this.nats.publish(subject, data, reply) === 0) settle(false)
    })
  }

  close(): void {
    this.subscription.unsubscribe()
    for (const settle of [...this.waiting.values()]) settle(false)
  }
}
