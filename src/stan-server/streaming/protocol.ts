/**
 * The STAN protobuf messages (node-nats-streaming's lib/pb/protocol.proto), hand-coded.
 * Decoders return undefined for malformed input; `bytes` fields are views on the input.
 * 64-bit integers are JS numbers, as node-nats-streaming's generated code reads them.
 */
import {
  MalformedMessageError,
  ProtoReader,
  ProtoWriter,
  WireType,
  lengthDelimitedSize,
  varintFieldSize,
} from './wire.js'

export const StartPosition = {
  NewOnly: 0,
  LastReceived: 1,
  TimeDeltaStart: 2,
  SequenceStart: 3,
  First: 4,
} as const
export type StartPosition = (typeof StartPosition)[keyof typeof StartPosition]

const EMPTY = Buffer.alloc(0)

export interface PubMsg {
  clientId: string
  guid: string
  subject: string
  reply: string
  data: Buffer
  connId: Buffer
}

export interface Ack {
  subject: string
  sequence: number
}

export interface ConnectRequest {
  clientId: string
  heartbeatInbox: string
  protocol: number
  connId: Buffer
  pingInterval: number
  pingMaxOut: number
}

export interface ConnectResponse {
  pubPrefix: string
  subRequests: string
  unsubRequests: string
  closeRequests: string
  error: string
  subCloseRequests: string
  pingRequests: string
  pingInterval: number
  pingMaxOut: number
  protocol: number
}

export interface Ping {
  connId: Buffer
}

export interface SubscriptionRequest {
  clientId: string
  subject: string
  qGroup: string
  inbox: string
  maxInFlight: number
  ackWaitInSecs: number
  durableName: string
  startPosition: number
  startSequence: number
  startTimeDelta: number
}

export interface SubscriptionResponse {
  ackInbox: string
  error: string
}

export interface UnsubscribeRequest {
  clientId: string
  subject: string
  inbox: string
  durableName: string
}

export interface CloseRequest {
  clientId: string
}

// ---- decoding -------------------------------------------------------------

function decode<T>(buf: Buffer, init: T, field: (r: ProtoReader, msg: T, num: number, wire: number) => boolean): T | undefined {
  const r = new ProtoReader(buf)
  try {
    while (!r.done) {
      const tag = r.uint32()
      const num = tag >>> 3
      const wire = tag & 7
      if (!field(r, init, num, wire)) r.skip(wire)
    }
    return init
  } catch (err) {
    if (err instanceof MalformedMessageError) return undefined
    throw err
  }
}

const LD = WireType.LengthDelimited
const VI = WireType.Varint

export function decodePubMsg(buf: Buffer): PubMsg | undefined {
  return decode<PubMsg>(buf, { clientId: '', guid: '', subject: '', reply: '', data: EMPTY, connId: EMPTY }, (r, m, num, wire) => {
    if (wire !== LD) return false
    switch (num) {
      case 1: m.clientId = r.string(); return true
      case 2: m.guid = r.string(); return true
      case 3: m.subject = r.string(); return true
      case 4: m.reply = r.string(); return true
      case 5: m.data = r.bytes(); return true
      case 6: m.connId = r.bytes(); return true
      default: return false
    }
  })
}

export function decodeAck(buf: Buffer): Ack | undefined {
  return decode<Ack>(buf, { subject: '', sequence: 0 }, (r, m, num, wire) => {
    if (num === 1 && wire === LD) m.subject = r.string()
    else if (num === 2 && wire === VI) m.sequence = r.int64()
    else return false
    return true
  })
}

export function decodeConnectRequest(buf: Buffer): ConnectRequest | undefined {
  const init: ConnectRequest = { clientId: '', heartbeatInbox: '', protocol: 0, connId: EMPTY, pingInterval: 0, pingMaxOut: 0 }
  return decode(buf, init, (r, m, num, wire) => {
    if (wire === LD) {
      if (num === 1) m.clientId = r.string()
      else if (num === 2) m.heartbeatInbox = r.string()
      else if (num === 4) m.connId = r.bytes()
      else return false
    } else if (wire === VI) {
      if (num === 3) m.protocol = r.int32()
      else if (num === 5) m.pingInterval = r.int32()
      else if (num === 6) m.pingMaxOut = r.int32()
      else return false
    } else return false
    return true
  })
}

export function decodePing(buf: Buffer): Ping | undefined {
  return decode<Ping>(buf, { connId: EMPTY }, (r, m, num, wire) => {
    if (num !== 1 || wire !== LD) return false
    m.connId = r.bytes()
    return true
  })
}

export function decodeSubscriptionRequest(buf: Buffer): SubscriptionRequest | undefined {
  const init: SubscriptionRequest = {
    clientId: '', subject: '', qGroup: '', inbox: '', maxInFlight: 0, ackWaitInSecs: 0,
    durableName: '', startPosition: 0, startSequence: 0, startTimeDelta: 0,
  }
  return decode(buf, init, (r, m, num, wire) => {
    if (wire === LD) {
      switch (num) {
        case 1: m.clientId = r.string(); return true
        case 2: m.subject = r.string(); return true
        case 3: m.qGroup = r.string(); return true
        case 4: m.inbox = r.string(); return true
        case 7: m.durableName = r.string(); return true
        default: return false
      }
    }
    if (wire !== VI) return false
    switch (num) {
      case 5: m.maxInFlight = r.int32(); return true
      case 6: m.ackWaitInSecs = r.int32(); return true
      case 10: m.startPosition = r.int32(); return true
      case 11: m.startSequence = r.int64(); return true
      case 12: m.startTimeDelta = r.int64(); return true
      default: return false
    }
  })
}

export function decodeUnsubscribeRequest(buf: Buffer): UnsubscribeRequest | undefined {
  return decode<UnsubscribeRequest>(buf, { clientId: '', subject: '', inbox: '', durableName: '' }, (r, m, num, wire) => {
    if (wire !== LD) return false
    switch (num) {
      case 1: m.clientId = r.string(); return true
      case 2: m.subject = r.string(); return true
      case 3: m.inbox = r.string(); return true
      case 4: m.durableName = r.string(); return true
      default: return false
    }
  })
}

export function decodeCloseRequest(buf: Buffer): CloseRequest | undefined {
  return decode<CloseRequest>(buf, { clientId: '' }, (r, m, num, wire) => {
    if (num !== 1 || wire !== LD) return false
    m.clientId = r.string()
    return true
  })
}

// ---- encoding -------------------------------------------------------------

/** Encodes a message whose fields are all strings (PubAck, SubscriptionResponse, CloseResponse, PingResponse). */
function encodeStrings(fields: ReadonlyArray<readonly [number, string]>): Buffer {
  let size = 0
  const lengths: number[] = []
  for (const [, value] of fields) {
    const len = Buffer.byteLength(value)
    lengths.push(len)
    if (len > 0) size += lengthDelimitedSize(len)
  }
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  fields.forEach(([num, value], i) => {
    const len = lengths[i]!
    if (len > 0) w.stringField(num, value, len)
  })
  return w.buf
}

/** PubAck; called once per published message, so it avoids the generic path. */
export function encodePubAck(guid: string, error = ''): Buffer {
  const guidLen = Buffer.byteLength(guid)
  const errLen = error.length === 0 ? 0 : Buffer.byteLength(error)
  const size = (guidLen > 0 ? lengthDelimitedSize(guidLen) : 0) + (errLen > 0 ? lengthDelimitedSize(errLen) : 0)
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  if (guidLen > 0) w.stringField(1, guid, guidLen)
  if (errLen > 0) w.stringField(2, error, errLen)
  return w.buf
}

export function encodeSubscriptionResponse(ackInbox: string, error = ''): Buffer {
  return encodeStrings([[2, ackInbox], [3, error]])
}

export function encodeCloseResponse(error = ''): Buffer {
  return encodeStrings([[1, error]])
}

export function encodePingResponse(error = ''): Buffer {
  return encodeStrings([[1, error]])
}

export function encodeConnectResponse(r: Partial<ConnectResponse>): Buffer {
  const head = encodeStrings([
    [1, r.pubPrefix ?? ''],
    [2, r.subRequests ?? ''],
    [3, r.unsubRequests ?? ''],
    [4, r.closeRequests ?? ''],
    [5, r.error ?? ''],
    [6, r.subCloseRequests ?? ''],
    [7, r.pingRequests ?? ''],
  ])
  const ints: Array<[number, number]> = [[8, r.pingInterval ?? 0], [9, r.pingMaxOut ?? 0], [10, r.protocol ?? 0]]
  let size = head.length
  for (const [, v] of ints) if (v !== 0) size += v < 0 ? 11 : varintFieldSize(v)
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  w.buf.set(head, 0)
  w.pos = head.length
  for (const [num, v] of ints) if (v !== 0) w.varintField(num, v)
  return w.buf
}

/**
 * MsgProto as first delivered (not redelivered). The server keeps these bytes and
 * sends them to every subscriber unchanged.
 */
export function encodeMsgProto(sequence: number, subject: string, reply: string, data: Uint8Array, timestamp: number): Buffer {
  const subjectLen = Buffer.byteLength(subject)
  const replyLen = reply.length === 0 ? 0 : Buffer.byteLength(reply)
  const size =
    varintFieldSize(sequence) +
    lengthDelimitedSize(subjectLen) +
    (replyLen > 0 ? lengthDelimitedSize(replyLen) : 0) +
    (data.length > 0 ? lengthDelimitedSize(data.length) : 0) +
    varintFieldSize(timestamp)
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  w.varintField(1, sequence)
  w.stringField(2, subject, subjectLen)
  if (replyLen > 0) w.stringField(3, reply, replyLen)
  if (data.length > 0) w.bytesField(4, data)
  w.varintField(5, timestamp)
  return w.buf
}

/**
 * A redelivery of an encoded MsgProto: protobuf decoders take the last value of a
 * repeated scalar field, so appending `redelivered` and `redelivery_count` to the
 * stored bytes is equivalent to re-encoding the whole message.
 */
export function encodeRedelivery(encoded: Uint8Array, redeliveryCount: number): Buffer {
  const out = Buffer.allocUnsafe(encoded.length + 2 + varintFieldSize(redeliveryCount))
  out.set(encoded, 0)
  const w = new ProtoWriter(out)
  w.pos = encoded.length
  w.varintField(6, 1)
  w.varintField(7, redeliveryCount)
  return out
}
