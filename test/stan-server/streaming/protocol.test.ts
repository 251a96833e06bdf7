import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  decodeAck,
  decodeCloseRequest,
  decodeConnectRequest,
  decodePing,
  decodePubMsg,
  decodeSubscriptionRequest,
  decodeUnsubscribeRequest,
  encodeCloseResponse,
  encodeConnectResponse,
  encodeMsgProto,
  encodePingResponse,
  encodePubAck,
  encodeRedelivery,
  encodeSubscriptionResponse,
} from '../../../src/stan-server/streaming/protocol.js'
import { bytesOf, pb } from './reference-pb.js'


const text = fc.string({ unit: 'grapheme', maxLength: 40 })
const u8 = fc.uint8Array({ maxLength: 300 })

describe('decoding what node-nats-streaming sends', () => {
  it('Should decode any PubMsg', () => {
    fc.assert(
      fc.property(text, text, text, text, u8, u8, (clientId, guid, subject, reply, data, connId) => {
        const m = new pb.PubMsg()
        m.setClientId(clientId)
        m.setGuid(guid)
        m.setSubject(subject)
        m.setReply(reply)
        m.setData(data)
        m.setConnId(connId)
        m.setSha256(new Uint8Array([1, 2, 3]))
        const got = decodePubMsg(bytesOf(m))
        expect(got).toBeDefined()
        expect({ ...got, data: [...got!.data], connId: [...got!.connId] }).toEqual({
          clientId, guid, subject, reply, data: [...data], connId: [...connId],
        })
      }),
    )
  })

  it('Should decode any SubscriptionRequest, including 64-bit sequences and time deltas', () => {
    fc.assert(
      fc.property(
        text, text, text, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 4 }), fc.maxSafeNat(), fc.maxSafeInteger(),
        (subject, qGroup, durableName, maxInFlight, ackWaitInSecs, startPosition, startSequence, startTimeDelta) => {
          const m = new pb.SubscriptionRequest()
          m.setClientId('me')
          m.setSubject(subject)
          m.setQGroup(qGroup)
          m.setInbox('_INBOX.x')
          m.setMaxInFlight(maxInFlight)
          m.setAckWaitInSecs(ackWaitInSecs)
          m.setDurableName(durableName)
          m.setStartPosition(startPosition)
          m.setStartSequence(startSequence)
          m.setStartTimeDelta(startTimeDelta)
          expect(decodeSubscriptionRequest(bytesOf(m))).toEqual({
            clientId: 'me', subject, qGroup, inbox: '_INBOX.x', maxInFlight, ackWaitInSecs, durableName,
            startPosition, startSequence, startTimeDelta,
          })
        },
      ),
    )
  })

  it('Should decode ConnectRequest, Ping, Ack, UnsubscribeRequest and CloseRequest', () => {
    const cr = new pb.ConnectRequest()
    cr.setClientId('client-1')
    cr.setHeartbeatInbox('_INBOX.hb')
    cr.setProtocol(1)
    cr.setConnId(Buffer.from('conn'))
    cr.setPingInterval(5)
    cr.setPingMaxOut(3)
    const connect = decodeConnectRequest(bytesOf(cr))!
    expect({ ...connect, connId: connect.connId.toString() }).toEqual({
      clientId: 'client-1', heartbeatInbox: '_INBOX.hb', protocol: 1, connId: 'conn', pingInterval: 5, pingMaxOut: 3,
    })

    const ping = new pb.Ping()
    ping.setConnId(Buffer.from('conn'))
    expect(decodePing(bytesOf(ping))!.connId.toString()).toBe('conn')

    const ack = new pb.Ack()
    ack.setSubject('orders')
    ack.setSequence(2 ** 40 + 3)
    expect(decodeAck(bytesOf(ack))).toEqual({ subject: 'orders', sequence: 2 ** 40 + 3 })

    const ur = new pb.UnsubscribeRequest()
    ur.setClientId('c')
    ur.setSubject('s')
    ur.setInbox('i')
    ur.setDurableName('d')
    expect(decodeUnsubscribeRequest(bytesOf(ur))).toEqual({ clientId: 'c', subject: 's', inbox: 'i', durableName: 'd' })

    const close = new pb.CloseRequest()
    close.setClientId('c')
    expect(decodeCloseRequest(bytesOf(close))).toEqual({ clientId: 'c' })
  })

  it('Should return undefined for truncated or garbled input', () => {
    const m = new pb.PubMsg()
    m.setGuid('guid')
    m.setData(new Uint8Array(100))
    const full = bytesOf(m)
    expect(decodePubMsg(full.subarray(0, full.length - 1))).toBeUndefined()
    expect(decodePubMsg(Buffer.from([0xff, 0xff, 0xff]))).toBeUndefined()
    expect(decodeConnectRequest(Buffer.from([0x0f]))).toBeUndefined()
  })

  it('Should skip fields it does not know', () => {
    const m = new pb.ConnectResponse()
    m.setPubPrefix('x')
    m.setPublicKey('key')
    // A ConnectResponse read as a CloseRequest: field 1 matches, field 100 is unknown.
    expect(decodeCloseRequest(bytesOf(m))).toEqual({ clientId: 'x' })
  })
})

describe('encoding what node-nats-streaming reads', () => {
  it('Should encode MsgProto that node-nats-streaming reads back', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), text, text, u8, fc.integer({ min: 0, max: 2 ** 62 }), (sequence, subject, reply, data, timestamp) => {
        const got = pb.MsgProto.deserializeBinary(encodeMsgProto(sequence, subject, reply, data, timestamp))
        expect(got.getSequence()).toBe(sequence)
        expect(got.getSubject()).toBe(subject)
        expect(got.getReply()).toBe(reply)
        expect([...got.getData_asU8()]).toEqual([...data])
        expect(got.getTimestamp()).toBe(timestamp)
        expect(got.getRedelivered()).toBe(false)
      }),
    )
  })

  it('Should encode a redelivery as the message with redelivered flag and count', () => {
    const first = encodeMsgProto(7, 'orders', '', Buffer.from('hello'), 1_700_000_000_000_000_000)
    const got = pb.MsgProto.deserializeBinary(encodeRedelivery(first, 3))
    expect(got.getSequence()).toBe(7)
    expect(Buffer.from(got.getData_asU8()).toString()).toBe('hello')
    expect(got.getRedelivered()).toBe(true)
    expect(got.getRedeliveryCount()).toBe(3)
    expect(got.getTimestamp()).toBe(1_700_000_000_000_000_000)
  })

  it('Should encode PubAck, SubscriptionResponse, CloseResponse and PingResponse', () => {
    const ack = pb.PubAck.deserializeBinary(encodePubAck('guid-1', 'stan: invalid publish request'))
    expect([ack.getGuid(), ack.getError()]).toEqual(['guid-1', 'stan: invalid publish request'])
    expect(pb.PubAck.deserializeBinary(encodePubAck('g')).getError()).toBe('')

    const sr = pb.SubscriptionResponse.deserializeBinary(encodeSubscriptionResponse('_INBOX.ack', ''))
    expect([sr.getAckInbox(), sr.getError()]).toEqual(['_INBOX.ack', ''])

    expect(pb.CloseResponse.deserializeBinary(encodeCloseResponse('stan: unknown clientID')).getError()).toBe('stan: unknown clientID')
    expect(encodePingResponse()).toHaveLength(0)
    expect(pb.PingResponse.deserializeBinary(encodePingResponse('gone')).getError()).toBe('gone')
  })

  it('Should encode ConnectResponse with every field', () => {
    const got = pb.ConnectResponse.deserializeBinary(
      encodeConnectResponse({
        pubPrefix: '_STAN.pub.c', subRequests: '_STAN.sub.c', unsubRequests: '_STAN.unsub.c', closeRequests: '_STAN.close.c',
        subCloseRequests: '_STAN.subclose.c', pingRequests: '_STAN.discover.c.pings', pingInterval: 5, pingMaxOut: 3, protocol: 1,
      }),
    )
    expect(got.toObject()).toEqual({
      pubPrefix: '_STAN.pub.c', subRequests: '_STAN.sub.c', unsubRequests: '_STAN.unsub.c', closeRequests: '_STAN.close.c',
      error: '', subCloseRequests: '_STAN.subclose.c', pingRequests: '_STAN.discover.c.pings', pingInterval: 5, pingMaxOut: 3,
      protocol: 1, publicKey: '',
    })
  })
})
