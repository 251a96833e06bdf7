/** Registered clients on disk (`clients.dat`): add and delete records, compacted like the subscriptions log. */
import { join } from 'node:path'
import { rewriteFile, worthCompacting } from './compaction.js'
import type { GroupCommit } from './group-commit.js'
import { AppendFile, RecordBuffer, readRecordFile } from './record-file.js'
import type { ClientRecord } from './types.js'

const enum Kind {
  Add = 1,
  Delete = 2,
}

export class FileClientLog {
  private readonly clients = new Map<string, ClientRecord>()
  private readonly file: AppendFile
  private written = 0

  constructor(
    dir: string,
    private readonly commit: GroupCommit,
  ) {
    const path = join(dir, 'clients.dat')
    readRecordFile(path, (body) => {
      const payload = body.subarray(1).toString()
      if (body[0] === Kind.Add) {
        const client = JSON.parse(payload) as ClientRecord
        this.clients.set(client.id, client)
      } else if (body[0] === Kind.Delete) {
        this.clients.delete(payload)
      }
    })
    rewriteFile(path, this.snapshot())
    this.file = new AppendFile(path)
    this.file.beforeSync = () => {
      if (!worthCompacting(this.written, this.clients.size)) return
      rewriteFile(path, this.snapshot())
      this.file.reopen()
    }
  }

  recovered(): ClientRecord[] {
    return [...this.clients.values()]
  }

  add(client: ClientRecord): void {
    const record: ClientRecord = { id: client.id, hbInbox: client.hbInbox, connId: client.connId }
    this.clients.set(client.id, record)
    this.append(this.file.records, Kind.Add, JSON.stringify(record))
    this.commit.mark(this.file)
  }

  delete(clientId: string): void {
    if (!this.clients.delete(clientId)) return
    this.append(this.file.records, Kind.Delete, clientId)
    this.commit.mark(this.file)
  }

  close(): void {
    this.file.close()
  }

  private snapshot(): RecordBuffer {
    const records = new RecordBuffer()
    for (const client of this.clients.values()) this.append(records, Kind.Add, JSON.stringify(client))
    this.written = this.clients.size
    return records
  }

  private append(records: RecordBuffer, kind: Kind, payload: string): void {
    const bytes = Buffer.from(payload)
    this.written++
    records.append(1 + bytes.length, (buf, at) => {
      buf[at] = kind
      bytes.copy(buf, at + 1)
    })
  }
}
