/** Store limits, with the real server's defaults (stores.DefaultStoreLimits). 0 means unlimited. */
export interface StoreLimits {
  maxChannels: number
  /** Messages kept per channel; the oldest are dropped past it. */
  maxMsgs: number
  /** Bytes of messages kept per channel; the oldest are dropped past it. */
  maxBytes: number
  /** Subscriptions (durables and queue groups included) per channel. */
  maxSubscriptions: number
}

export const DEFAULT_LIMITS: Readonly<StoreLimits> = Object.freeze({
  maxChannels: 100,
  maxMsgs: 1_000_000,
  maxBytes: 1_000_000 * 1024,
  maxSubscriptions: 1000,
})

/** True when a log of `count` messages and `bytes` bytes is past its limits (the newest message is always kept). */
export function overLimits(limits: StoreLimits, count: number, bytes: number): boolean {
  if (count <= 1) return false
  return (limits.maxMsgs > 0 && count > limits.maxMsgs) || (limits.maxBytes > 0 && bytes > limits.maxBytes)
}
