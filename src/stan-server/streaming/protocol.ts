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

/** A delivery as a subscriber reads it; `data` is a view on the input. */
export interface MsgProto {
  sequence: number
  subject: string
  reply: string
  data: Buffer
  timestamp: number
  redelivered: boolean
  redeliveryCount: number
  crc32: number
}

/** PingResponse and CloseResponse: an error, empty when all is well. */
export interface ErrorResponse {
  error: string
}

// ---- decoding -------------------------------------------------------------

/** A field as the decoders read it: the property it sets, and its protobuf type (which fixes its wire type). */
type Field<T> = { [K in keyof T]: readonly [K, T[K] extends string ? 'string' : T[K] extends Buffer ? 'bytes' : 'int32' | 'int64'] }[keyof T]

/** A message's fields by number: what its decoder reads and its encoder writes. */
type Fields<T> = Readonly<Record<number, Field<T>>>

const WIRE_TYPES = { string: WireType.LengthDelimited, bytes: WireType.LengthDelimited, int32: WireType.Varint, int64: WireType.Varint }

/**
 * A decoder for a message whose `fields` are given by field number: a field of another number, or sent with
 * another wire type, is skipped, as protobuf decoders do. `empty` gives the defaults of a fresh message.
 */
function decoder<T>(empty: () => T, fields: Fields<T>): (buf: Buffer) => T | undefined {
  return (buf) => {
    const r = new ProtoReader(buf)
    const msg = empty()
    try {
      while (!r.done) {
        const tag = r.uint32()
        const field = fields[tag >>> 3]
        const wire = tag & 7
        if (field === undefined || wire !== WIRE_TYPES[field[1]]) r.skip(wire)
        else msg[field[0]] = r[field[1]]() as T[keyof T]
      }
      return msg
    } catch (err) {
      if (err instanceof MalformedMessageError) return undefined
      throw err
    }
  }
}

/** PubMsg; decoded once per published message, so it avoids the generic decoder's table lookups (as encodePubAck does). */
export function decodePubMsg(buf: Buffer): PubMsg | undefined {
  const r = new ProtoReader(buf)
  const m: PubMsg = { clientId: '', guid: '', subject: '', reply: '', data: EMPTY, connId: EMPTY }
  try {
    while (!r.done) {
      const tag = r.uint32()
      if ((tag & 7) !== WireType.LengthDelimited) r.skip(tag & 7)
      else if (tag >>> 3 === 1) m.clientId = r.string()
      else if (tag >>> 3 === 2) m.guid = r.string()
      else if (tag >>> 3 === 3) m.subject = r.string()
      else if (tag >>> 3 === 4) m.reply = r.string()
      else if (tag >>> 3 === 5) m.data = r.bytes()
      else if (tag >>> 3 === 6) m.connId = r.bytes()
      else r.skip(WireType.LengthDelimited)
    }
    return m
  } catch (err) {
    if (err instanceof MalformedMessageError) return undefined
    throw err
  }
}

export const decodeAck = decoder<Ack>(() => ({ subject: '', sequence: 0 }), { 1: ['subject', 'string'], 2: ['sequence', 'int64'] })

const CONNECT_REQUEST: Fields<ConnectRequest> = {
  1: ['clientId', 'string'],
  2: ['heartbeatInbox', 'string'],
  3: ['protocol', 'int32'],
  4: ['connId', 'bytes'],
  5: ['pingInterval', 'int32'],
  6: ['pingMaxOut', 'int32'],
}

export const decodeConnectRequest = decoder<ConnectRequest>(
  () => ({ clientId: '', heartbeatInbox: '', protocol: 0, connId: EMPTY, pingInterval: 0, pingMaxOut: 0 }),
  CONNECT_REQUEST,
)

const PING: Fields<Ping> = { 1: ['connId', 'bytes'] }

export const decodePing = decoder<Ping>(() => ({ connId: EMPTY }), PING)

const SUBSCRIPTION_REQUEST: Fields<SubscriptionRequest> = {
  1: ['clientId', 'string'],
  2: ['subject', 'string'],
  3: ['qGroup', 'string'],
  4: ['inbox', 'string'],
  5: ['maxInFlight', 'int32'],
  6: ['ackWaitInSecs', 'int32'],
  7: ['durableName', 'string'],
  10: ['startPosition', 'int32'],
  11: ['startSequence', 'int64'],
  12: ['startTimeDelta', 'int64'],
}

export const decodeSubscriptionRequest = decoder<SubscriptionRequest>(
  () => ({
    clientId: '', subject: '', qGroup: '', inbox: '', maxInFlight: 0, ackWaitInSecs: 0,
    durableName: '', startPosition: 0, startSequence: 0, startTimeDelta: 0,
  }),
  SUBSCRIPTION_REQUEST,
)

const UNSUBSCRIBE_REQUEST: Fields<UnsubscribeRequest> = {
  1: ['clientId', 'string'],
  2: ['subject', 'string'],
  3: ['inbox', 'string'],
  4: ['durableName', 'string'],
}

export const decodeUnsubscribeRequest = decoder<UnsubscribeRequest>(() => ({ clientId: '', subject: '', inbox: '', durableName: '' }), UNSUBSCRIBE_REQUEST)

const CLOSE_REQUEST: Fields<CloseRequest> = { 1: ['clientId', 'string'] }

export const decodeCloseRequest = decoder<CloseRequest>(() => ({ clientId: '' }), CLOSE_REQUEST)

// What a client reads.

/** MsgProto; decoded once per delivered message, so hand-written like decodePubMsg. */
export function decodeMsgProto(buf: Buffer): MsgProto | undefined {
  const r = new ProtoReader(buf)
  const m: MsgProto = { sequence: 0, subject: '', reply: '', data: EMPTY, timestamp: 0, redelivered: false, redeliveryCount: 0, crc32: 0 }
  try {
    while (!r.done) {
      const tag = r.uint32()
      const wire = tag & 7
      const field = tag >>> 3
      if (wire === WireType.Varint) {
        if (field === 1) m.sequence = r.int64()
        else if (field === 5) m.timestamp = r.int64()
        else if (field === 6) m.redelivered = r.bool()
        else if (field === 7) m.redeliveryCount = r.uint32()
        else if (field === 10) m.crc32 = r.uint32()
        else r.skip(wire)
      } else if (wire === WireType.LengthDelimited) {
        if (field === 4) m.data = r.bytes()
        else if (field === 2) m.subject = r.string()
        else if (field === 3) m.reply = r.string()
        else r.skip(wire)
      } else r.skip(wire)
    }
    return m
  } catch (err) {
    if (err instanceof MalformedMessageError) return undefined
    throw err
  }
}

const CONNECT_RESPONSE: Fields<ConnectResponse> = {
  1: ['pubPrefix', 'string'],
  2: ['subRequests', 'string'],
  3: ['unsubRequests', 'string'],
  4: ['closeRequests', 'string'],
  5: ['error', 'string'],
  6: ['subCloseRequests', 'string'],
  7: ['pingRequests', 'string'],
  8: ['pingInterval', 'int32'],
  9: ['pingMaxOut', 'int32'],
  10: ['protocol', 'int32'],
}

const emptyConnectResponse = (): ConnectResponse => ({
  pubPrefix: '', subRequests: '', unsubRequests: '', closeRequests: '', error: '',
  subCloseRequests: '', pingRequests: '', pingInterval: 0, pingMaxOut: 0, protocol: 0,
})

export const decodeConnectResponse = decoder<ConnectResponse>(emptyConnectResponse, CONNECT_RESPONSE)

const SUBSCRIPTION_RESPONSE: Fields<SubscriptionResponse> = { 2: ['ackInbox', 'string'], 3: ['error', 'string'] }

export const decodeSubscriptionResponse = decoder<SubscriptionResponse>(() => ({ ackInbox: '', error: '' }), SUBSCRIPTION_RESPONSE)

/** PingResponse and CloseResponse alike. */
const ERROR_RESPONSE: Fields<ErrorResponse> = { 1: ['error', 'string'] }

export const decodePingResponse = decoder<ErrorResponse>(() => ({ error: '' }), ERROR_RESPONSE)

export const decodeCloseResponse = decoder<ErrorResponse>(() => ({ error: '' }), ERROR_RESPONSE)

// ---- encoding -------------------------------------------------------------

/** A field to encode: its number and value (a string or bytes is length-delimited, a number a varint). */
type EncodedField = readonly [number, string | Uint8Array | number]

/**
 * Encodes a message from its fields in order, leaving out those at their default (empty, 0) as proto3 does.
 * For messages sent now and then (responses, a client's requests); the per-message ones are hand-written.
 */
function encodeFields(fields: readonly EncodedField[]): Buffer {
  let size = 0
  const lengths: number[] = []
  for (const [, value] of fields) {
    const len = typeof value === 'string' ? Buffer.byteLength(value) : typeof value === 'number' ? 0 : value.length
    lengths.push(len)
    if (typeof value === 'number') size += value === 0 ? 0 : value < 0 ? 11 : varintFieldSize(value)
    else if (len > 0) size += lengthDelimitedSize(len)
  }
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  fields.forEach(([num, value], i) => {
    const len = lengths[i]!
    if (typeof value === 'number') {
      if (value !== 0) w.varintField(num, value)
    } else if (len === 0) return
    else if (typeof value === 'string') w.stringField(num, value, len)
    else w.bytesField(num, value)
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

/** An encoder for a message by the same field table its decoder reads, the fields in number order. */
function encoder<T>(fields: Fields<T>): (msg: T) => Buffer {
  const order = Object.entries(fields).map(([num, [key]]) => [Number(num), key] as const)
  return (msg) => encodeFields(order.map(([num, key]) => [num, msg[key] as EncodedField[1]]))
}

const encodeErrorResponse = encoder<ErrorResponse>(ERROR_RESPONSE)
const encodeSubscriptionResponseFields = encoder<SubscriptionResponse>(SUBSCRIPTION_RESPONSE)

export function encodeSubscriptionResponse(ackInbox: string, error = ''): Buffer {
  return encodeSubscriptionResponseFields({ ackInbox, error })
}

export function encodeCloseResponse(error = ''): Buffer {
  return encodeErrorResponse({ error })
}

export function encodePingResponse(error = ''): Buffer {
  return encodeErrorResponse({ error })
}

const encodeConnectResponseFields = encoder<ConnectResponse>(CONNECT_RESPONSE)

export function encodeConnectResponse(r: Partial<ConnectResponse>): Buffer {
  return encodeConnectResponseFields({ ...emptyConnectResponse(), ...r })
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

// What a client sends.

export const encodeConnectRequest = encoder<ConnectRequest>(CONNECT_REQUEST)

export const encodeSubscriptionRequest = encoder<SubscriptionRequest>(SUBSCRIPTION_REQUEST)

const encodePingFields = encoder<Ping>(PING)

export function encodePing(connId: Uint8Array): Buffer {
  return encodePingFields({ connId: Buffer.from(connId.buffer, connId.byteOffset, connId.byteLength) })
}

export const encodeUnsubscribeRequest = encoder<UnsubscribeRequest>(UNSUBSCRIBE_REQUEST)

const encodeCloseRequestFields = encoder<CloseRequest>(CLOSE_REQUEST)

export function encodeCloseRequest(clientId: string): Buffer {
  return encodeCloseRequestFields({ clientId })
}

/** Ack; sent once per delivered message, so it avoids the generic path (as encodePubAck does). */
export function encodeAck(subject: string, sequence: number): Buffer {
  const subjectLen = Buffer.byteLength(subject)
  const size = (subjectLen > 0 ? lengthDelimitedSize(subjectLen) : 0) + (sequence !== 0 ? varintFieldSize(sequence) : 0)
  const w = new ProtoWriter(Buffer.allocUnsafe(size))
  if (subjectLen > 0) w.stringField(1, subject, subjectLen)
  if (sequence !== 0) w.varintField(2, sequence)
  return w.buf
}
