/**
 * Append-only files of framed records: [u32 body length][u32 CRC-32 of body][body].
 * Records are built in memory and written in one write per flush, then fdatasync'ed.
 * Reading stops at the first torn or corrupt record: what follows it was never
 * acknowledged, so recovery truncates it away.
 */
import { closeSync, fdatasync, ftruncateSync, openSync, readFileSync, write } from 'node:fs'
import { crc32 } from 'node:zlib'

const HEADER = 8

/** A growable buffer of records waiting to be written. */
export class RecordBuffer {
  private buf = Buffer.allocUnsafe(64 * 1024)
  private used = 0

  get length(): number {
    return this.used
  }

  /** Appends a record whose body of `size` bytes `fill` writes at `at`; returns the record's size. */
  append(size: number, fill: (buf: Buffer, at: number) => void): number {
    const total = HEADER + size
    this.ensure(total)
    const start = this.used
    const at = start + HEADER
    fill(this.buf, at)
    this.buf.writeUInt32LE(size, start)
    this.buf.writeUInt32LE(crc32(this.buf.subarray(at, at + size)), start + 4)
    this.used += total
    return total
  }

  /** The records so far, copied out; the buffer starts empty again. */
  take(): Buffer {
    const chunk = Buffer.from(this.buf.subarray(0, this.used))
    this.used = 0
    return chunk
  }

  clear(): void {
    this.used = 0
  }

  private ensure(extra: number): void {
    if (this.used + extra <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + extra))
    this.buf.copy(grown, 0, 0, this.used)
    this.buf = grown
  }
}

/**
 * Calls `onRecord` with each intact record's body (a view on `data`) and its offset;
 * returns the end of the last intact record.
 */
export function scanRecords(data: Buffer, onRecord: (body: Buffer, bodyOffset: number) => void): number {
  let offset = 0
  while (offset + HEADER <= data.length) {
    const size = data.readUInt32LE(offset)
    const at = offset + HEADER
    if (at + size > data.length) break
    const body = data.subarray(at, at + size)
    if (crc32(body) !== data.readUInt32LE(offset + 4)) break
    onRecord(body, at)
    offset = at + size
  }
  return offset
}

/** Reads a record file, truncating a torn or corrupt tail; a missing file reads as empty. */
export function readRecordFile(path: string, onRecord: (body: Buffer, bodyOffset: number) => void): { data: Buffer; size: number } {
  let data: Buffer
  try {
    data = readFileSync(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { data: Buffer.alloc(0), size: 0 }
    throw err
  }
  const end = scanRecords(data, onRecord)
  if (end < data.length) {
    const fd = openSync(path, 'r+')
    try {
      ftruncateSync(fd, end)
    } finally {
      closeSync(fd)
    }
  }
  return { data, size: end }
}

/** A file records are appended to; `sync()` writes what was appended so far and fdatasyncs it. */
export class AppendFile {
  readonly records = new RecordBuffer()
  /** Called between group-commit rounds before this file is written (compaction hooks in here). */
  beforeSync: (() => void) | undefined
  private fd: number

  constructor(readonly path: string) {
    this.fd = openSync(path, 'a')
  }

  get hasPending(): boolean {
    return this.records.length > 0
  }

  async sync(): Promise<void> {
    if (this.records.length === 0) return
    const chunk = this.records.take()
    let written = 0
    while (written < chunk.length) {
      written += await new Promise<number>((resolve, reject) =>
        write(this.fd, chunk, written, chunk.length - written, null, (err, n) => (err ? reject(err) : resolve(n))),
      )
    }
    await new Promise<void>((resolve, reject) => fdatasync(this.fd, (err) => (err ? reject(err) : resolve())))
  }

  /** Reopens after the file was replaced (compaction); anything unwritten is dropped. */
  reopen(): void {
    closeSync(this.fd)
    this.records.clear()
    this.fd = openSync(this.path, 'a')
  }

  close(): void {
    closeSync(this.fd)
  }
}
