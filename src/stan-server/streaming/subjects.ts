/** The internal subjects a server with a given cluster ID listens on, and name rules. */

export interface StanSubjects {
  readonly discover: string
  readonly publish: string
  readonly subscribe: string
  readonly subClose: string
  readonly unsubscribe: string
  readonly close: string
  readonly pings: string
}

export const DEFAULT_DISCOVER_PREFIX = '_STAN.discover'

export function stanSubjects(clusterId: string, discoverPrefix = DEFAULT_DISCOVER_PREFIX): StanSubjects {
  const discover = `${discoverPrefix}.${clusterId}`
  return {
    discover,
    publish: `_STAN.pub.${clusterId}`,
    subscribe: `_STAN.sub.${clusterId}`,
    subClose: `_STAN.subclose.${clusterId}`,
    unsubscribe: `_STAN.unsub.${clusterId}`,
    close: `_STAN.close.${clusterId}`,
    pings: `${discover}.pings`,
  }
}

const CLIENT_ID = /^[a-zA-Z0-9_-]+$/

export function isValidClientId(id: string): boolean {
  return CLIENT_ID.test(id)
}

/**
 * A channel name is a literal NATS subject: not empty, no `/`, no wildcard,
 * no empty token (as util.IsChannelNameValid without wildcards).
 */
export function isValidChannelName(name: string): boolean {
  const len = name.length
  if (len === 0 || name.charCodeAt(0) === 0x2e) return false
  for (let i = 0; i < len; i++) {
    const c = name.charCodeAt(i)
    if (c === 0x2f || c === 0x2a || c === 0x3e) return false // '/', '*', '>'
    if (c === 0x2e && (i === len - 1 || name.charCodeAt(i + 1) === 0x2e)) return false
  }
  return true
}
