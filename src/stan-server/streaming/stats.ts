/** Traffic counters of the streaming layer, as the real server's in/out msgs and bytes (reported by /streaming/serverz). */
export interface TrafficStats {
  /** PubMsgs received, and their encoded size. */
  inMsgs: number
  inBytes: number
  /** Messages sent to subscriptions (redeliveries included), and their encoded size. */
  outMsgs: number
  outBytes: number
}

export function newTrafficStats(): TrafficStats {
  return { inMsgs: 0, inBytes: 0, outMsgs: 0, outBytes: 0 }
}
