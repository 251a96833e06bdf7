/**
 * A channel's messages on disk, in slice files `msgs.<n>.dat` of framed records
 * ([f64 sequence][f64 timestamp][MsgProto bytes]), like the real server's file slices.
 * The slice being written keeps its messages in memory; older slices are read back
 * whole on a lookup miss and a couple of them stay loaded. Messages dropped by
 * limits are skipped logically; a slice is deleted once all of it is dropped.
 */
import { readdirSync, readFileSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { GroupCommit } from './group-commit.js'
import { overLimits, type StoreLimits } from './limits.js'
import { AppendFile, readRecordFile, scanRecords } from './record-file.js'
import type { MessageLog, StoredMessage } from './types.js'

export const SLICE_MAX_BYTES = 16 * 1024 * 1024
/** Older slices kept loaded besides the one being written. */
const LOADED_SLICES = 2
const RECORD_PREFIX = 16

interface Slice {
  readonly path: string
  readonly number: number
  readonly firstSeq: number
  /** Byte length of each message, for the bytes limit. */
  readonly lengths: number[]
  firstTimestamp: number
  lastTimestamp: number
  size: number
  /** In memory: always for the slice being written, else while loaded. */
  messages: StoredMessage[] | undefined
  /** Open only while the slice is written to. */
  file: AppendFile | undefined
}

export class FileMessageLog implements MessageLog {
  private readonly slices: Slice[] = []
  private readonly loaded: Slice[] = []
  private bytes = 0
  firstSequence = 0
  lastSequence = 0

  constructor(
    private readonly dir: string,
    private readonly limits: StoreLimits,
    private readonly commit: GroupCommit,
    private readonly sliceMaxBytes = SLICE_MAX_BYTES,
  ) {
    this.recover()
  }

  get count(): number {
    return this.firstSequence === 0 ? 0 : this.lastSequence - this.firstSequence + 1
  }

  get totalBytes(): number {
    return this.bytes
  }

  append(message: StoredMessage): void {
    if (this.lastSequence !== 0 && message.sequence !== this.lastSequence + 1) {
      throw new Error(`out of order append: ${message.sequence} after ${this.lastSequence}`)
    }
    let slice = this.slices[this.slices.length - 1]
    if (slice === undefined || slice.size >= this.sliceMaxBytes) slice = this.newSlice(message.sequence)
    const file = slice.file!
    const bytes = message.bytes
    slice.size += file.records.append(RECORD_PREFIX + bytes.length, (buf, at) => {
      buf.writeDoubleLE(message.sequence, at)
      buf.writeDoubleLE(message.timestamp, at + 8)
      bytes.copy(buf, at + RECORD_PREFIX)
    })
    this.commit.mark(file)
    slice.messages!.push(message)
    slice.lengths.push(bytes.length)
    if (slice.lengths.length === 1) slice.firstTimestamp = message.timestamp
    slice.lastTimestamp = message.timestamp
    if (this.firstSequence === 0) this.firstSequence = message.sequence
    this.lastSequence = message.sequence
    this.bytes += bytes.length
    this.enforceLimits()
  }

  lookup(sequence: number): StoredMessage | undefined {
    if (sequence < this.firstSequence || sequence > this.lastSequence) return undefined
    const slice = this.sliceOf(sequence)
    return this.messagesOf(slice)[sequence - slice.firstSeq]
  }

  sequenceAtOrAfter(timestamp: number): number {
    if (this.firstSequence === 0) return 0
    const slice = this.slices.find((s) => s.lastTimestamp >= timestamp)
    if (slice === undefined) return this.lastSequence + 1
    const messages = this.messagesOf(slice)
    let lo = Math.max(0, this.firstSequence - slice.firstSeq)
    let hi = messages.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (messages[mid]!.timestamp < timestamp) lo = mid + 1
      else hi = mid
    }
    return slice.firstSeq + lo
  }

  /** Closes the file being written (the store has drained its writes). */
  close(): void {
    for (const slice of this.slices) slice.file?.close()
  }

  private newSlice(firstSeq: number): Slice {
    const previous = this.slices[this.slices.length - 1]
    const number = (previous?.number ?? 0) + 1
    const path = join(this.dir, `msgs.${number}.dat`)
    const slice: Slice = {
      path, number, firstSeq, lengths: [], firstTimestamp: 0, lastTimestamp: 0, size: 0, messages: [], file: new AppendFile(path),
    }
    this.slices.push(slice)
    if (previous !== undefined) {
      // Its last records may still be on their way to disk: close it between rounds.
      const file = previous.file
      previous.file = undefined
      if (file !== undefined) this.commit.between(() => file.close())
      this.keepLoaded(previous)
    }
    return slice
  }

  private sliceOf(sequence: number): Slice {
    const slices = this.slices
    let lo = 0
    let hi = slices.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (slices[mid]!.firstSeq <= sequence) lo = mid
      else hi = mid - 1
    }
    return slices[lo]!
  }

  private messagesOf(slice: Slice): StoredMessage[] {
    if (slice.messages !== undefined) return slice.messages
    const messages = readMessages(readFileSync(slice.path))
    slice.messages = messages
    this.keepLoaded(slice)
    return messages
  }

  /** Remembers a loaded older slice, unloading the least recently loaded past the bound. */
  private keepLoaded(slice: Slice): void {
    this.loaded.push(slice)
    while (this.loaded.length > LOADED_SLICES) {
      const evicted = this.loaded.shift()!
      if (evicted.file === undefined) evicted.messages = undefined
    }
  }

  private enforceLimits(): void {
    while (overLimits(this.limits, this.count, this.bytes)) {
      const first = this.slices[0]!
      this.bytes -= first.lengths[this.firstSequence - first.firstSeq]!
      this.firstSequence++
      if (this.firstSequence > first.firstSeq + first.lengths.length - 1 && first.file === undefined) {
        this.slices.shift()
        first.messages = undefined
        const i = this.loaded.indexOf(first)
        if (i >= 0) this.loaded.splice(i, 1)
        this.commit.between(() => unlinkSync(first.path))
      }
    }
  }

  /** Reads every slice (truncating a torn last record), then applies the limits again. */
  private recover(): void {
    const numbers = readdirSync(this.dir)
      .map((name) => /^msgs\.(\d+)\.dat$/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b)
    numbers.forEach((number, i) => {
      const path = join(this.dir, `msgs.${number}.dat`)
      const isLast = i === numbers.length - 1
      const lengths: number[] = []
      let firstSeq = 0
      let firstTimestamp = 0
      let lastTimestamp = 0
      const messages: StoredMessage[] = []
      const { size } = readRecordFile(path, (body) => {
        const sequence = body.readDoubleLE(0)
        const timestamp = body.readDoubleLE(8)
        if (firstSeq === 0) {
          firstSeq = sequence
          firstTimestamp = timestamp
        }
        lastTimestamp = timestamp
        lengths.push(body.length - RECORD_PREFIX)
        if (isLast) messages.push({ sequence, timestamp, bytes: body.subarray(RECORD_PREFIX) })
      })
      if (firstSeq === 0) {
        unlinkSync(path)
        return
      }
      this.slices.push({
        path, number, firstSeq, lengths, firstTimestamp, lastTimestamp, size,
        messages: isLast ? messages : undefined,
        file: isLast ? new AppendFile(path) : undefined,
      })
      if (this.firstSequence === 0) this.firstSequence = firstSeq
      this.lastSequence = firstSeq + lengths.length - 1
      for (const length of lengths) this.bytes += length
    })
    this.enforceLimits()
  }
}

function readMessages(data: Buffer): StoredMessage[] {
  const messages: StoredMessage[] = []
  scanRecords(data, (body) => {
    messages.push({ sequence: body.readDoubleLE(0), timestamp: body.readDoubleLE(8), bytes: body.subarray(RECORD_PREFIX) })
  })
  return messages
}
