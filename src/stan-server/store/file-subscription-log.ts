/**
 * A channel's subscriptions on disk (`subs.dat`): records for create/update
 * (the SubState as JSON), delete, pending and ack, replayed on recovery. The log
 * is rewritten as a snapshot when opened and whenever it has grown well past
 * its state.
 */
import { join } from 'node:path'
import { rewriteFile, worthCompacting } from './compaction.js'
import type { GroupCommit } from './group-commit.js'
import { AppendFile, RecordBuffer, readRecordFile } from './record-file.js'
import type { RecoveredSubscription, SubscriptionLog, SubscriptionRecord } from './types.js'

const enum Kind {
  Upsert = 1,
  Delete = 2,
  Pending = 3,
  Ack = 4,
}

interface SubState {
  record: SubscriptionRecord
  readonly pending: Set<number>
}

export class FileSubscriptionLog implements SubscriptionLog {
  private readonly subs = new Map<number, SubState>()
  private readonly file: AppendFile
  private written = 0
  private pendingCount = 0

  constructor(
    dir: string,
    private readonly commit: GroupCommit,
  ) {
    const path = join(dir, 'subs.dat')
    readRecordFile(path, (body) => this.replay(body))
    const snapshot = new RecordBuffer()
    this.writeSnapshot(snapshot)
    rewriteFile(path, snapshot)
    this.file = new AppendFile(path)
    this.file.beforeSync = () => this.compactIfWorth()
  }

  /** Subscriptions as they were when the log was opened, with their unacknowledged sequences. */
  recovered(): RecoveredSubscription[] {
    return [...this.subs.values()].map((s) => ({ record: { ...s.record }, pending: [...s.pending].sort((a, b) => a - b) }))
  }

  create(sub: SubscriptionRecord): void {
    this.subs.set(sub.id, { record: copy(sub), pending: new Set() })
    this.writeUpsert(this.file.records, sub)
  }

  update(sub: SubscriptionRecord): void {
    const state = this.subs.get(sub.id)
    if (state === undefined) return this.create(sub)
    state.record = copy(sub)
    this.writeUpsert(this.file.records, sub)
  }

  delete(subId: number): void {
    const state = this.subs.get(subId)
    if (state === undefined) return
    this.pendingCount -= state.pending.size
    this.subs.delete(subId)
    this.written++
    this.file.records.append(5, (buf, at) => {
      buf[at] = Kind.Delete
      buf.writeUInt32LE(subId, at + 1)
    })
    this.commit.mark(this.file)
  }

  addPending(subId: number, sequence: number): void {
    const state = this.subs.get(subId)
    if (state === undefined) return
    if (!state.pending.has(sequence)) this.pendingCount++
    state.pending.add(sequence)
    if (sequence > state.record.lastSent) state.record.lastSent = sequence
    this.writeSequence(Kind.Pending, subId, sequence)
  }

  ackPending(subId: number, sequence: number): void {
    const state = this.subs.get(subId)
    if (state === undefined || !state.pending.delete(sequence)) return
    this.pendingCount--
    this.writeSequence(Kind.Ack, subId, sequence)
  }

  close(): void {
    this.file.close()
  }

  private writeSequence(kind: Kind, subId: number, sequence: number): void {
    this.written++
    this.file.records.append(13, (buf, at) => {
      buf[at] = kind
      buf.writeUInt32LE(subId, at + 1)
      buf.writeDoubleLE(sequence, at + 5)
    })
    this.commit.mark(this.file)
  }

  private writeUpsert(records: RecordBuffer, sub: SubscriptionRecord): void {
    const json = Buffer.from(JSON.stringify(copy(sub)))
    this.written++
    records.append(1 + json.length, (buf, at) => {
      buf[at] = Kind.Upsert
      json.copy(buf, at + 1)
    })
    if (records === this.file?.records) this.commit.mark(this.file)
  }

  private writeSnapshot(records: RecordBuffer): void {
    for (const { record, pending } of this.subs.values()) {
      this.writeUpsert(records, record)
      for (const sequence of pending) {
        records.append(13, (buf, at) => {
          buf[at] = Kind.Pending
          buf.writeUInt32LE(record.id, at + 1)
          buf.writeDoubleLE(sequence, at + 5)
        })
      }
    }
    this.written = this.subs.size + this.pendingCount
  }

  /** Runs between group-commit rounds: the snapshot supersedes the records not yet written. */
  private compactIfWorth(): void {
    if (!worthCompacting(this.written, this.subs.size + this.pendingCount)) return
    const snapshot = new RecordBuffer()
    this.writeSnapshot(snapshot)
    rewriteFile(this.file.path, snapshot)
    this.file.reopen()
  }

  private replay(body: Buffer): void {
    const kind = body[0]
    if (kind === Kind.Upsert) {
      const record = JSON.parse(body.subarray(1).toString()) as SubscriptionRecord
      const state = this.subs.get(record.id)
      if (state === undefined) this.subs.set(record.id, { record, pending: new Set() })
      else state.record = { ...record, lastSent: Math.max(record.lastSent, state.record.lastSent) }
      return
    }
    const state = this.subs.get(body.readUInt32LE(1))
    if (state === undefined) return
    if (kind === Kind.Delete) {
      this.pendingCount -= state.pending.size
      this.subs.delete(state.record.id)
    } else if (kind === Kind.Pending) {
      const sequence = body.readDoubleLE(5)
      if (!state.pending.has(sequence)) this.pendingCount++
      state.pending.add(sequence)
      if (sequence > state.record.lastSent) state.record.lastSent = sequence
    } else if (kind === Kind.Ack) {
      if (state.pending.delete(body.readDoubleLE(5))) this.pendingCount--
    }
  }
}

function copy(sub: SubscriptionRecord): SubscriptionRecord {
  return {
    id: sub.id,
    clientId: sub.clientId,
    qGroup: sub.qGroup,
    inbox: sub.inbox,
    ackInbox: sub.ackInbox,
    durableName: sub.durableName,
    maxInFlight: sub.maxInFlight,
    ackWaitInSecs: sub.ackWaitInSecs,
    lastSent: sub.lastSent,
    isDurable: sub.isDurable,
    isClosed: sub.isClosed,
  }
}
