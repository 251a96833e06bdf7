import { createHash } from 'node:crypto'

/** What must become of one published message. */
export type Expectation =
  /** A new order: stored once with this content. */
  | { kind: 'order'; orderUid: string; json: string }
  /** The same order again, identical: absorbed, nothing written. */
  | { kind: 'duplicate'; orderUid: string }
  /** The same order_uid with different content: one 'conflict' dead letter, the stored order unchanged. */
  | { kind: 'conflict'; orderUid: string }
  /** Refused by the gate: one dead letter with this reason. `label` groups them in the report (hostile kind). */
  | { kind: 'rejected'; reason: string; label: string }

export interface Outgoing {
  payload: Buffer
  expect: Expectation
}

export interface ExpectedDeadLetter {
  reason: string
  label: string
}

/**
 * Everything published in a scenario and what the service must have made of it: the orders by order_uid, and
 * the dead letters by payload sha256 (a multiset: the same bad bytes published twice are two dead letters).
 */
export class Ledger {
  readonly orders = new Map<string, string>()
  readonly deadLetters = new Map<string, ExpectedDeadLetter[]>()
  valid = 0
  invalid = 0
  duplicates = 0

  record(messages: readonly Outgoing[]): void {
    for (const { payload, expect } of messages) {
      switch (expect.kind) {
        case 'order': {
          const known = this.orders.get(expect.orderUid)
          if (known !== undefined && known !== expect.json) throw new Error(`ledger: order ${expect.orderUid} expected with two contents`)
          if (known !== undefined) throw new Error(`ledger: order ${expect.orderUid} published as new twice; use 'duplicate'`)
          this.orders.set(expect.orderUid, expect.json)
          this.valid++
          break
        }
        case 'duplicate':
          this.requireOrder(expect.orderUid)
          this.valid++
          this.duplicates++
          break
        case 'conflict':
          this.requireOrder(expect.orderUid)
          this.addDeadLetter(payload, { reason: 'conflict', label: 'conflict' })
          this.valid++
          break
        case 'rejected':
          this.addDeadLetter(payload, { reason: expect.reason, label: expect.label })
          this.invalid++
          break
      }
    }
  }

  deadLetterCount(): number {
    let n = 0
    for (const list of this.deadLetters.values()) n += list.length
    return n
  }

  private requireOrder(orderUid: string): void {
    if (!this.orders.has(orderUid)) throw new Error(`ledger: ${orderUid} republished before it was published`)
  }

  private addDeadLetter(payload: Buffer, expected: ExpectedDeadLetter): void {
    const sha = sha256(payload)
    const list = this.deadLetters.get(sha)
    if (list === undefined) this.deadLetters.set(sha, [expected])
    else list.push(expected)
  }
}

export function sha256(payload: Uint8Array): string {
  return createHash('sha256').update(payload).digest('hex')
}
