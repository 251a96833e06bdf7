/** A bare TCP client for speaking the NATS protocol by hand in tests. */
import { connect, type Socket } from 'node:net'

export interface ReceivedMsg {
  subject: string
  sid: string
  reply: string
  payload: Buffer
}

export class RawClient {
  private received = Buffer.alloc(0)
  private waiting: (() => void) | undefined
  readonly closed: Promise<void>
  bytesReceived = 0

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => {
      this.bytesReceived += chunk.length
      this.received = Buffer.concat([this.received, chunk])
      this.wake()
    })
    this.closed = new Promise((resolve) => socket.on('close', () => resolve()))
    socket.on('close', () => this.wake())
    socket.on('error', () => {})
  }

  /** Connects and reads the server's INFO. */
  static async connect(port: number): Promise<{ client: RawClient; info: Record<string, unknown> }> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const client = new RawClient(socket)
    const line = await client.line()
    if (!line.startsWith('INFO ')) throw new Error(`expected INFO, got ${line}`)
    return { client, info: JSON.parse(line.slice(5)) as Record<string, unknown> }
  }

  send(text: string | Buffer): void {
    this.socket.write(text)
  }

  /** The next CRLF-terminated line, without its CRLF. */
  async line(): Promise<string> {
    for (;;) {
      const end = this.received.indexOf('\r\n')
      if (end >= 0) {
        const line = this.received.toString('latin1', 0, end)
        this.received = this.received.subarray(end + 2)
        return line
      }
      await this.more()
    }
  }

  async msg(): Promise<ReceivedMsg> {
    const line = await this.line()
    const parts = line.split(' ')
    if (parts[0] !== 'MSG' || (parts.length !== 4 && parts.length !== 5)) throw new Error(`expected MSG, got ${line}`)
    const size = Number(parts[parts.length - 1])
    while (this.received.length < size + 2) await this.more()
    const payload = Buffer.from(this.received.subarray(0, size))
    this.received = this.received.subarray(size + 2)
    return { subject: parts[1]!, sid: parts[2]!, reply: parts.length === 5 ? parts[3]! : '', payload }
  }

  /** Sends PING and collects every MSG received before the PONG. */
  async msgsUntilPong(): Promise<ReceivedMsg[]> {
    this.send('PING\r\n')
    const msgs: ReceivedMsg[] = []
    for (;;) {
      if (this.received.toString('latin1', 0, 6) === 'PONG\r\n') {
        this.received = this.received.subarray(6)
        return msgs
      }
      if (this.received.toString('latin1', 0, 4) === 'MSG ') msgs.push(await this.msg())
      else if (this.received.length >= 6) throw new Error(`unexpected: ${this.received.toString('latin1', 0, 40)}`)
      else await this.more()
    }
  }

  /** Sends PING and returns every byte received before the PONG, as text (for frames msg() does not read, such as HMSG). */
  async textUntilPong(): Promise<string> {
    this.send('PING\r\n')
    for (;;) {
      const end = this.received.indexOf('PONG\r\n')
      if (end >= 0) {
        const text = this.received.toString('latin1', 0, end)
        this.received = this.received.subarray(end + 6)
        return text
      }
      await this.more()
    }
  }

  /** Resolves once a PONG answers a PING: everything sent before has been processed. */
  async roundTrip(): Promise<void> {
    this.send('PING\r\n')
    const line = await this.line()
    if (line !== 'PONG') throw new Error(`expected PONG, got ${line}`)
  }

  close(): void {
    this.socket.destroy()
  }

  private more(): Promise<void> {
    if (this.socket.destroyed) throw new Error(`connection closed; unread: ${this.received.toString('latin1', 0, 80)}`)
    return new Promise((resolve) => (this.waiting = resolve))
  }

  private wake(): void {
    const waiting = this.waiting
    this.waiting = undefined
    waiting?.()
  }
}
