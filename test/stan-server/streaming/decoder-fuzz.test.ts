/**
 * Fuzzing the protobuf decoders of the STAN requests (and of what a client reads: deliveries and responses):
 * any bytes on an internal subject give a decoded message or undefined (answered as an invalid request),
 * never an exception, whether the bytes are random or a real message damaged.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  decodeAck,
  decodeCloseRequest,
  decodeCloseResponse,
  decodeConnectRequest,
  decodeConnectResponse,
  decodeMsgProto,
  decodePing,
  decodePingResponse,
  decodePubMsg,
  decodeSubscriptionRequest,
  decodeSubscriptionResponse,
  decodeUnsubscribeRequest,
} from '../../../src/stan-server/streaming/protocol.js'
import { bytesOf, pb } from './reference-pb.js'


const DECODERS = {
  decodePubMsg, decodeAck, decodeConnectRequest, decodePing,
  decodeSubscriptionRequest, decodeUnsubscribeRequest, decodeCloseRequest,
  // A client's: what a broker (or anything on its inbox subjects) sends it.
  decodeMsgProto, decodeConnectResponse, decodeSubscriptionResponse, decodePingResponse, decodeCloseResponse,
} as const

/** Runs every decoder; any exception escapes and fails the property. */
function decodeAll(bytes: Buffer): void {
  for (const [name, decode] of Object.entries(DECODERS)) {
    const result: unknown = decode(bytes)
    expect(result === undefined || typeof result === 'object', name).toBe(true)
  }
}

/** Valid requests as node-nats-streaming encodes them, to be damaged. */
const valid = fc.oneof(
  fc.tuple(fc.string(), fc.string(), fc.uint8Array({ maxLength: 50 })).map(([subject, guid, data]) => {
    const m = new pb.PubMsg()
    m.setClientId('me')
    m.setGuid(guid)
    m.setSubject(subject)
    m.setData(data)
    m.setConnId(new Uint8Array([1, 2, 3]))
    return bytesOf(m)
  }),
  fc.tuple(fc.string(), fc.integer(), fc.integer({ min: 0, max: 4 }), fc.maxSafeNat()).map(([subject, maxInFlight, start, seq]) => {
    const m = new pb.SubscriptionRequest()
    m.setClientId('me')
    m.setSubject(subject)
    m.setInbox('_INBOX.x')
    m.setMaxInFlight(maxInFlight)
    m.setAckWaitInSecs(30)
    m.setStartPosition(start)
    m.setStartSequence(seq)
    m.setStartTimeDelta(-seq)
    return bytesOf(m)
  }),
  fc.tuple(fc.string(), fc.string()).map(([clientId, hbInbox]) => {
    const m = new pb.ConnectRequest()
    m.setClientId(clientId)
    m.setHeartbeatInbox(hbInbox)
    m.setProtocol(1)
    m.setPingInterval(5)
    m.setPingMaxOut(3)
    return bytesOf(m)
  }),
  fc.tuple(fc.maxSafeNat(), fc.string(), fc.uint8Array({ maxLength: 50 }), fc.nat()).map(([sequence, subject, data, count]) => {
    const m = new pb.MsgProto()
    m.setSequence(sequence)
    m.setSubject(subject)
    m.setData(data)
    m.setTimestamp(Date.now() * 1e6)
    m.setRedelivered(count > 0)
    m.setRedeliveryCount(count)
    return bytesOf(m)
  }),
)

/** Truncation, a changed byte, or bytes spliced in: the damage a broken or hostile client could do. */
const damaged = fc
  .tuple(valid, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 12 }), fc.constantFrom('truncate', 'flip', 'splice'))
  .map(([bytes, at, value, inserted, how]) => {
    const i = bytes.length === 0 ? 0 : at % bytes.length
    if (how === 'truncate') return bytes.subarray(0, i)
    if (how === 'flip') {
      const copy = Buffer.from(bytes)
      if (copy.length > 0) copy[i] = value
      return copy
    }
    return Buffer.concat([bytes.subarray(0, i), inserted, bytes.subarray(i)])
  })

describe('STAN request decoders under fuzzing', () => {
  it('Should decode arbitrary bytes to a request or undefined, never throwing', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => decodeAll(Buffer.from(bytes))), { numRuns: 500 })
  })

  it('Should decode truncated, altered or spliced requests to a request or undefined, never throwing', () => {
    fc.assert(fc.property(damaged, (bytes) => decodeAll(bytes)), { numRuns: 1000 })
  })

  it('Should refuse every strict prefix of a PubMsg that carries data', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), (data) => {
        const m = new pb.PubMsg()
        m.setGuid('g')
        m.setData(data)
        const bytes = bytesOf(m)
        // The data field comes last: cutting anywhere inside it must not yield a shorter payload.
        for (let cut = bytes.length - data.length; cut < bytes.length; cut++) {
          expect(decodePubMsg(bytes.subarray(0, cut))).toBeUndefined()
        }
      }),
      { numRuns: 200 },
    )
  })
})
