/** Replaces a record file with a snapshot of its state, atomically (temp file, fsync, rename). */
import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs'
import type { RecordBuffer } from './record-file.js'

export function rewriteFile(path: string, snapshot: RecordBuffer): void {
  const tmp = `${path}.tmp`
  const chunk = snapshot.take()
  const fd = openSync(tmp, 'w')
  try {
    let written = 0
    while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(tmp, path)
}

/** A log is compacted once it holds many more records than its state needs. */
export function worthCompacting(written: number, live: number): boolean {
  return written > 10_000 && written > 10 * (live + 1)
}
