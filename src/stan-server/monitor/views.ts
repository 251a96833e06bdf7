/**
 * The JSON documents of the monitoring endpoints, field for field as the real
 * server's server/monitor.go (Serverz, Storez, Clientsz, Clientz, Channelsz,
 * Channelz, Subscriptionz). Go's `omitempty` fields are left out when empty.
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { Store } from '../store/types.js'
import type { Channel } from '../streaming/channel.js'
import type { Client } from '../streaming/clients.js'
import type { StreamingServer } from '../streaming/server.js'
import type { Subscription } from '../streaming/subscription.js'

/** The real server version whose behaviour this one follows. */
export const COMPATIBLE_VERSION = '0.25.6'
const DEFAULT_LIST_LIMIT = 1024

export interface MonitorSource {
  readonly clusterId: string
  readonly streaming: StreamingServer
  readonly store: Store
}

export interface Page {
  readonly offset: number
  readonly limit: number
}

export interface Subscriptionz {
  client_id: string
  inbox: string
  ack_inbox: string
  durable_name?: string
  queue_name?: string
  is_durable: boolean
  is_offline: boolean
  max_inflight: number
  ack_wait: number
  last_sent: number
  pending_count: number
  is_stalled: boolean
}

export interface Clientz {
  id: string
  hb_inbox: string
  subs_count: number
  subscriptions?: Record<string, Subscriptionz[]>
}

export interface Channelz {
  name: string
  msgs: number
  bytes: number
  first_seq: number
  last_seq: number
  subs_count: number
  subscriptions?: Subscriptionz[]
}

export function serverz(source: MonitorSource, now = new Date()) {
  const { streaming } = source
  const totals = messageTotals(streaming)
  const fds = fileDescriptors()
  let subscriptions = 0
  for (const channel of streaming.channels.all()) subscriptions += channelSubscriptions(channel).length
  return {
    cluster_id: source.clusterId,
    server_id: streaming.serverId,
    version: COMPATIBLE_VERSION,
    go: `node ${process.version}`,
    state: 'STANDALONE',
    now: now.toISOString(),
    start_time: streaming.startTime.toISOString(),
    uptime: uptime(now.getTime() - streaming.startTime.getTime()),
    clients: streaming.clients.size,
    subscriptions,
    channels: [...streaming.channels.all()].length,
    total_msgs: totals.msgs,
    total_bytes: totals.bytes,
    in_msgs: streaming.stats.inMsgs,
    in_bytes: streaming.stats.inBytes,
    out_msgs: streaming.stats.outMsgs,
    out_bytes: streaming.stats.outBytes,
    ...(fds !== undefined && fds.open > 0 ? { open_fds: fds.open } : {}),
    ...(fds !== undefined && fds.max > 0 ? { max_fds: fds.max } : {}),
  }
}

export function storez(source: MonitorSource, now = new Date()) {
  const { streaming, store } = source
  const totals = messageTotals(streaming)
  const limits = store.limits
  return {
    cluster_id: source.clusterId,
    server_id: streaming.serverId,
    now: now.toISOString(),
    type: store.kind === 'file' ? 'FILE' : 'MEMORY',
    // Go embeds ChannelLimits in StoreLimits: its fields sit at the top level. Durations are nanoseconds.
    limits: {
      max_channels: limits.maxChannels,
      max_msgs: limits.maxMsgs,
      max_bytes: limits.maxBytes,
      max_age: 0,
      max_subscriptions: limits.maxSubscriptions,
      max_inactivity: 0,
    },
    total_msgs: totals.msgs,
    total_bytes: totals.bytes,
  }
}

/** The fields the real server puts ahead of every paged list. */
function listHeader(source: MonitorSource, page: Page, count: number, total: number, now: Date) {
  return {
    cluster_id: source.clusterId,
    server_id: source.streaming.serverId,
    now: now.toISOString(),
    offset: page.offset,
    limit: page.limit,
    count,
    total,
  }
}

/** All clients, sorted by ID and paged. */
export function clientsz(source: MonitorSource, page: Page, withSubs: boolean, now = new Date()) {
  const { streaming } = source
  const all = [...streaming.clients.all()].sort((a, b) => compare(a.id, b.id))
  const shown = all.slice(...bounds(page, all.length)).map((client) => clientz(client, withSubs))
  return { ...listHeader(source, page, shown.length, all.length, now), clients: shown }
}

/** Undefined when no such client is registered. */
export function oneClientz(source: MonitorSource, clientId: string, withSubs: boolean): Clientz | undefined {
  const client = source.streaming.clients.lookup(clientId)
  return client === undefined ? undefined : clientz(client, withSubs)
}

/** Channel names, or with `withSubs` the channels in full, sorted by name and paged. */
export function channelsz(source: MonitorSource, page: Page, withSubs: boolean, now = new Date()) {
  const { streaming } = source
  const all = [...streaming.channels.all()].sort((a, b) => compare(a.name, b.name))
  const shown = all.slice(...bounds(page, all.length))
  const list = withSubs
    ? { channels: shown.map((channel) => channelz(channel, true)) }
    : { names: shown.map((channel) => channel.name) }
  return { ...listHeader(source, page, shown.length, all.length, now), ...(shown.length > 0 ? list : {}) }
}

/** Undefined when the channel does not exist. */
export function oneChannelz(source: MonitorSource, name: string, withSubs: boolean): Channelz | undefined {
  const channel = source.streaming.channels.get(name)
  return channel === undefined ? undefined : channelz(channel, withSubs)
}

/** Page bounds as the real server's getOffsetAndLimit: a missing or non-positive limit is 1024. */
export function page(offset: number | undefined, limit: number | undefined): Page {
  return {
    offset: offset === undefined || offset < 0 ? 0 : offset,
    limit: limit === undefined || limit <= 0 ? DEFAULT_LIST_LIMIT : limit,
  }
}

function clientz(client: Client, withSubs: boolean): Clientz {
  const view: Clientz = { id: client.id, hb_inbox: client.info.hbInbox, subs_count: client.subs.size }
  if (withSubs && client.subs.size > 0) {
    const bySubject: Record<string, Subscriptionz[]> = {}
    for (const sub of client.subs) (bySubject[sub.subject] ??= []).push(subscriptionz(sub))
    view.subscriptions = bySubject
  }
  return view
}

function channelz(channel: Channel, withSubs: boolean): Channelz {
  const log = channel.store.messages
  const subs = channelSubscriptions(channel)
  return {
    name: channel.name,
    msgs: log.count,
    bytes: log.totalBytes,
    first_seq: log.firstSequence,
    last_seq: log.lastSequence,
    subs_count: subs.length,
    ...(withSubs && subs.length > 0 ? { subscriptions: subs.map(subscriptionz) } : {}),
  }
}

/** As getMonitorChannelSubs: plain ones (online durables included), offline durables, queue members and offline durable groups. */
function channelSubscriptions(channel: Channel): Subscription[] {
  const subs = [...channel.plain]
  for (const durable of channel.durables.values()) if (durable.clientId === '') subs.push(durable)
  for (const group of channel.queues.values()) {
    subs.push(...group.members)
    if (group.shadow !== undefined) subs.push(group.shadow)
  }
  return subs
}

function subscriptionz(sub: Subscription): Subscriptionz {
  const offline = sub.clientId === ''
  return {
    client_id: offline ? sub.savedClientId : sub.clientId,
    inbox: sub.inbox,
    ack_inbox: sub.ackInbox,
    ...(sub.durableName !== '' ? { durable_name: sub.durableName } : {}),
    ...(sub.qGroup !== '' ? { queue_name: sub.qGroup } : {}),
    is_durable: sub.isDurable,
    is_offline: offline,
    max_inflight: sub.maxInFlight,
    ack_wait: sub.ackWaitInSecs,
    last_sent: sub.lastSent,
    pending_count: sub.pending.size,
    is_stalled: sub.stalled,
  }
}

function messageTotals(streaming: StreamingServer): { msgs: number; bytes: number } {
  let msgs = 0
  let bytes = 0
  for (const channel of streaming.channels.all()) {
    msgs += channel.store.messages.count
    bytes += channel.store.messages.totalBytes
  }
  return { msgs, bytes }
}

function bounds(page: Page, total: number): [number, number] {
  return [Math.min(page.offset, total), Math.min(page.offset + page.limit, total)]
}

/** Byte order, as Go sorts strings. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/** As the real server's myUptime: "1y2d3h4m5s", leading zero units left out. */
export function uptime(ms: number): string {
  const secs = Math.floor(ms / 1000)
  const mins = Math.floor(secs / 60)
  const hours = Math.floor(mins / 60)
  const days = Math.floor(hours / 24)
  const years = Math.floor(days / 365)
  if (years > 0) return `${years}y${days % 365}d${hours % 24}h${mins % 60}m${secs % 60}s`
  if (days > 0) return `${days}d${hours % 24}h${mins % 60}m${secs % 60}s`
  if (hours > 0) return `${hours}h${mins % 60}m${secs % 60}s`
  if (mins > 0) return `${mins}m${secs % 60}s`
  return `${secs}s`
}

/** Open and maximum file descriptors from /proc (Linux); undefined elsewhere, as the real server omits them. */
function fileDescriptors(): { open: number; max: number } | undefined {
  try {
    const open = readdirSync('/proc/self/fd').length
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const max = Number(line?.split(/\s+/)[3])
    // "unlimited" is reported as 0, which the real server's omitempty leaves out.
    return { open, max: Number.isSafeInteger(max) ? max : 0 }
  } catch {
    return undefined
  }
}
