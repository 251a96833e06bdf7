/**
 * File store: a data directory with `clients.dat` and one folder per channel
 * (`channels/<name>/` holding message slices and `subs.dat`). Everything is read
 * back when the store opens; appends are written and fdatasync'ed by group commit,
 * so a flushed batch survives kill -9 and power loss alike.
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { lockDirectory, type DirectoryLock } from './directory-lock.js'
import { FileClientLog } from './file-client-log.js'
import { FileMessageLog } from './file-message-log.js'
import { FileSubscriptionLog } from './file-subscription-log.js'
import { GroupCommit } from './group-commit.js'
import type { StoreLimits } from './limits.js'
import type { ChannelStore, ClientRecord, RecoveredState, Store } from './types.js'

interface FileChannel extends ChannelStore {
  readonly messages: FileMessageLog
  readonly subscriptions: FileSubscriptionLog
}

export class FileStore implements Store {
  readonly kind = 'file'
  private readonly commit = new GroupCommit()
  private readonly channels = new Map<string, FileChannel>()
  private readonly clients: FileClientLog
  private readonly channelsDir: string
  private readonly lock: DirectoryLock

  /**
   * Opens (creating if needed) the store in `dir`, reading back everything in it.
   * Throws DirectoryLockedError while another live broker has the directory open.
   */
  constructor(
    dir: string,
    readonly limits: StoreLimits,
    private readonly options: { sliceMaxBytes?: number } = {},
  ) {
    this.channelsDir = join(dir, 'channels')
    mkdirSync(this.channelsDir, { recursive: true })
    this.lock = lockDirectory(dir)
    try {
      this.clients = new FileClientLog(dir, this.commit)
      for (const entry of readdirSync(this.channelsDir, { withFileTypes: true })) {
        if (entry.isDirectory()) this.openChannel(decodeURIComponent(entry.name))
      }
    } catch (err) {
      this.lock.release()
      throw err
    }
  }

  recover(): RecoveredState {
    return {
      clients: this.clients.recovered(),
      channels: [...this.channels.values()].map((channel) => ({ channel, subscriptions: channel.subscriptions.recovered() })),
    }
  }

  lookupChannel(name: string): ChannelStore | undefined {
    return this.channels.get(name)
  }

  createChannel(name: string): ChannelStore {
    return this.channels.get(name) ?? this.openChannel(name)
  }

  addClient(client: ClientRecord): void {
    this.clients.add(client)
  }

  deleteClient(clientId: string): void {
    this.clients.delete(clientId)
  }

  flush(): Promise<void> | undefined {
    return this.commit.flush()
  }

  async close(): Promise<void> {
    await this.commit.drain()
    for (const channel of this.channels.values()) {
      channel.messages.close()
      channel.subscriptions.close()
    }
    this.clients.close()
    this.channels.clear()
    this.lock.release()
  }

  private openChannel(name: string): FileChannel {
    // Channel names are subjects: percent-encoding keeps any of them a single safe folder name.
    const dir = join(this.channelsDir, encodeURIComponent(name))
    mkdirSync(dir, { recursive: true })
    const channel: FileChannel = {
      name,
      messages: new FileMessageLog(dir, this.limits, this.commit, this.options.sliceMaxBytes),
      subscriptions: new FileSubscriptionLog(dir, this.commit),
    }
    this.channels.set(name, channel)
    return channel
  }
}
