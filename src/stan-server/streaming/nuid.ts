import { randomBytes } from 'node:crypto'

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
const PREFIX_LENGTH = 12
const SEQUENCE_LENGTH = 10

/** Unique 22-character identifiers in the style of NATS NUIDs: a random prefix and a counter. */
export class Nuid {
  private prefix = ''
  private sequence = 0

  constructor() {
    this.randomizePrefix()
  }

  next(): string {
    this.sequence++
    if (this.sequence >= 62 ** SEQUENCE_LENGTH) this.randomizePrefix()
    let n = this.sequence
    let tail = ''
    for (let i = 0; i < SEQUENCE_LENGTH; i++) {
      tail = DIGITS[n % 62]! + tail
      n = Math.floor(n / 62)
    }
    return this.prefix + tail
  }

  /** An inbox subject as NATS clients create them. */
  inbox(): string {
    return `_INBOX.${this.next()}`
  }

  private randomizePrefix(): void {
    const bytes = randomBytes(PREFIX_LENGTH)
    let prefix = ''
    for (const b of bytes) prefix += DIGITS[b % 62]
    this.prefix = prefix
    this.sequence = randomBytes(4).readUInt32BE(0)
  }
}
