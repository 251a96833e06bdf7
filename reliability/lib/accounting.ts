import { Agent } from 'node:http'
import type { Queryable } from '../../src/store/db.js'
import { httpGet } from './http.js'
import type { Ledger } from './ledger.js'

/** What the tables hold against what the ledger says they must. */
export interface StoredAccount {
  stored: number
  deadLettered: number
  /** Expected and absent: orders, dead letters. */
  lost: number
  /** Written more than once: an order_uid or broker sequence twice, a payload more often than published. */
  doubled: number
  /** Written although nothing published asks for it. */
  unexpected: number
  /** Stored content different from the published one, or a dead letter with the wrong reason. */
  mismatched: number
  /** Per hostile kind (label): published, and dead-lettered with the right reason. */
  perLabel: Record<string, { published: number; deadLettered: number }>
  problems: string[]
}

export interface ServedAccount {
  checked: number
  /** GET /order/:id not 200 or not the published content. */
  mismatched: number
  problems: string[]
}

const MAX_PROBLEMS = 12

export async function accountStored(sql: Queryable, ledger: Ledger): Promise<StoredAccount> {
  const orders = await sql<{ order_uid: string; body: string }[]>`select order_uid, doc::text as body from orders`
  const letters = await sql<{ sha: string; reason: string; channel: string; broker_seq: string | null }[]>`
    select encode(payload_sha256, 'hex') as sha, reason, channel, broker_seq::text as broker_seq from dead_letters`
  const account: StoredAccount = { stored: orders.length, deadLettered: letters.length, lost: 0, doubled: 0, unexpected: 0, mismatched: 0, perLabel: {}, problems: [] }
  const problem = (text: string) => account.problems.length < MAX_PROBLEMS && account.problems.push(text)

  const storedByUid = new Map<string, string>()
  for (const row of orders) {
    if (storedByUid.has(row.order_uid)) {
      account.doubled++
      problem(`order ${row.order_uid} stored twice`)
    }
    storedByUid.set(row.order_uid, row.body)
  }
  for (const [uid, json] of ledger.orders) {
    const body = storedByUid.get(uid)
    if (body === undefined) {
      account.lost++
      problem(`order ${uid} lost`)
    } else if (!jsonEqual(JSON.parse(body), JSON.parse(json))) {
      account.mismatched++
      problem(`order ${uid} stored with other content: ${body.slice(0, 120)}`)
    }
  }
  for (const uid of storedByUid.keys()) {
    if (!ledger.orders.has(uid)) {
      account.unexpected++
      problem(`order ${uid} stored but never published as new`)
    }
  }

  const seenSeqs = new Set<string>()
  const actualBySha = new Map<string, string[]>()
  for (const row of letters) {
    // A position is a sequence in a channel: two brokers (a move from one to the other) count from 1 each.
    if (row.broker_seq !== null) {
      const position = `${row.channel} ${row.broker_seq}`
      if (seenSeqs.has(position)) {
        account.doubled++
        problem(`dead letter for ${row.channel} sequence ${row.broker_seq} written twice`)
      }
      seenSeqs.add(position)
    }
    actualBySha.set(row.sha, [...(actualBySha.get(row.sha) ?? []), row.reason])
  }
  for (const [sha, expected] of ledger.deadLetters) {
    const actual = [...(actualBySha.get(sha) ?? [])]
    for (const { reason, label } of expected) {
      const tally = (account.perLabel[label] ??= { published: 0, deadLettered: 0 })
      tally.published++
      const at = actual.indexOf(reason)
      if (at !== -1) {
        actual.splice(at, 1)
        tally.deadLettered++
      } else if (actual.length > 0) {
        account.mismatched++
        problem(`${label} message ${sha.slice(0, 12)}: dead-lettered as ${actual.shift()}, expected ${reason}`)
      } else {
        account.lost++
        problem(`${label} message ${sha.slice(0, 12)} (${reason}) has no dead letter`)
      }
    }
    if (actual.length > 0) {
      account.doubled += actual.length
      problem(`message ${sha.slice(0, 12)} dead-lettered ${actual.length} more time(s) than published`)
    }
  }
  for (const [sha, reasons] of actualBySha) {
    if (!ledger.deadLetters.has(sha)) {
      account.unexpected += reasons.length
      problem(`dead letter ${sha.slice(0, 12)} (${reasons.join(', ')}) for nothing published as invalid`)
    }
  }
  return account
}

/** GET /order/:id for every expected order: 200 and the published content. */
export async function accountServed(port: number, ledger: Ledger, concurrency = 16): Promise<ServedAccount> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  const account: ServedAccount = { checked: 0, mismatched: 0, problems: [] }
  const queue = [...ledger.orders]
  const worker = async () => {
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      const [uid, json] = next
      const result = await httpGet(port, `/order/${uid}`, { agent })
      account.checked++
      const ok = result.status === 200 && 'body' in result && jsonEqual(parseOrUndefined(result.body.toString('utf8')), JSON.parse(json))
      if (!ok) {
        account.mismatched++
        if (account.problems.length < MAX_PROBLEMS) {
          account.problems.push(`GET /order/${uid}: ${result.status} ${'body' in result ? result.body.toString('utf8').slice(0, 100) : result.error}`)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  agent.destroy()
  return account
}

/** JSON values equal as JSON: object key order is free, and numbers compare by value (jsonb writes 1e2 as 100). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => jsonEqual(item, b[i]))
  const aKeys = Object.keys(a)
  const bRecord = b as Record<string, unknown>
  if (aKeys.length !== Object.keys(b).length) return false
  return aKeys.every((key) => Object.hasOwn(b, key) && jsonEqual((a as Record<string, unknown>)[key], bRecord[key]))
}

export function parseOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
