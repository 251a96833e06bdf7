import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
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
  encodeAck,
  encodeCloseRequest,
  encodeCloseResponse,
  encodeConnectRequest,
  encodeConnectResponse,
  encodeMsgProto,
  encodePing,
  encodePingResponse,
  encodePubAck,
  encodeRedelivery,
  encodeSubscriptionRequest,
  encodeSubscriptionResponse,
  encodeUnsubscribeRequest,
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

describe('the client side: encoding what the server reads', () => {
  const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })

  it('Should encode any Ack as node-nats-streaming does, and the server reads it back', () => {
    fc.assert(
      fc.property(text, fc.maxSafeNat(), (subject, sequence) => {
        const ack = new pb.Ack()
        ack.setSubject(subject)
        ack.setSequence(sequence)
        const encoded = encodeAck(subject, sequence)
        expect([...encoded]).toEqual([...bytesOf(ack)])
        expect(decodeAck(encoded)).toEqual({ subject, sequence })
      }),
    )
  })

  it('Should encode any SubscriptionRequest that the reference and the server read back', () => {
    fc.assert(
      fc.property(
        text, text, text, int32, int32, fc.integer({ min: 0, max: 4 }), fc.maxSafeNat(), fc.maxSafeInteger(),
        (subject, qGroup, durableName, maxInFlight, ackWaitInSecs, startPosition, startSequence, startTimeDelta) => {
          const request = {
            clientId: 'me', subject, qGroup, inbox: '_INBOX.x', maxInFlight, ackWaitInSecs, durableName,
            startPosition, startSequence, startTimeDelta,
          }
          const encoded = encodeSubscriptionRequest(request)
          const got = pb.SubscriptionRequest.deserializeBinary(encoded)
          expect({
            clientId: got.getClientId(), subject: got.getSubject(), qGroup: got.getQGroup(), inbox: got.getInbox(),
            maxInFlight: got.getMaxInFlight(), ackWaitInSecs: got.getAckWaitInSecs(), durableName: got.getDurableName(),
            startPosition: got.getStartPosition(), startSequence: got.getStartSequence(), startTimeDelta: got.getStartTimeDelta(),
          }).toEqual(request)
          expect(decodeSubscriptionRequest(encoded)).toEqual(request)
        },
      ),
    )
  })

  it('Should encode ConnectRequest, Ping, UnsubscribeRequest and CloseRequest as node-nats-streaming does', () => {
    fc.assert(
      fc.property(text, text, u8, fc.integer({ min: 0, max: 3600 }), fc.integer({ min: 0, max: 100 }), (clientId, heartbeatInbox, connId, pingInterval, pingMaxOut) => {
        const cr = new pb.ConnectRequest()
        cr.setClientId(clientId)
        cr.setHeartbeatInbox(heartbeatInbox)
        cr.setProtocol(1)
        cr.setConnId(connId)
        cr.setPingInterval(pingInterval)
        cr.setPingMaxOut(pingMaxOut)
        const request = { clientId, heartbeatInbox, protocol: 1, connId: Buffer.from(connId), pingInterval, pingMaxOut }
        expect([...encodeConnectRequest(request)]).toEqual([...bytesOf(cr)])

        const ping = new pb.Ping()
        ping.setConnId(connId)
        expect([...encodePing(connId)]).toEqual([...bytesOf(ping)])

        const ur = new pb.UnsubscribeRequest()
        ur.setClientId(clientId)
        ur.setSubject('orders')
        ur.setInbox(heartbeatInbox)
        ur.setDurableName('d')
        expect([...encodeUnsubscribeRequest({ clientId, subject: 'orders', inbox: heartbeatInbox, durableName: 'd' })]).toEqual([...bytesOf(ur)])

        const close = new pb.CloseRequest()
        close.setClientId(clientId)
        expect([...encodeCloseRequest(clientId)]).toEqual([...bytesOf(close)])
      }),
    )
  })
})

describe('the client side: decoding what the server sends', () => {
  it('Should decode any MsgProto the reference encodes, data as a view on the input', () => {
    fc.assert(
      fc.property(
        fc.maxSafeNat(), text, text, u8, fc.maxSafeInteger(), fc.boolean(), fc.nat(), fc.nat({ max: 2 ** 32 - 1 }),
        (sequence, subject, reply, data, timestamp, redelivered, redeliveryCount, crc32) => {
          const m = new pb.MsgProto()
          m.setSequence(sequence)
          m.setSubject(subject)
          m.setReply(reply)
          m.setData(data)
          m.setTimestamp(timestamp)
          m.setRedelivered(redelivered)
          m.setRedeliveryCount(redeliveryCount)
          m.setCrc32(crc32)
          const encoded = bytesOf(m)
          const got = decodeMsgProto(encoded)!
          expect({ ...got, data: [...got.data] }).toEqual({
            sequence, subject, reply, data: [...data], timestamp, redelivered, redeliveryCount, crc32,
          })
          if (data.length > 0) expect(got.data.buffer).toBe(encoded.buffer)
        },
      ),
    )
  })

  it('Should decode what the server encodes: a first delivery and a redelivery', () => {
    const first = encodeMsgProto(7, 'orders', '', Buffer.from('hello'), 1_700_000_000_000_000_000)
    const once = decodeMsgProto(first)!
    expect({ ...once, data: once.data.toString() }).toEqual({
      sequence: 7, subject: 'orders', reply: '', data: 'hello', timestamp: 1_700_000_000_000_000_000, redelivered: false, redeliveryCount: 0, crc32: 0,
    })
    const again = decodeMsgProto(encodeRedelivery(first, 3))!
    expect([again.sequence, again.redelivered, again.redeliveryCount, again.data.toString()]).toEqual([7, true, 3, 'hello'])
  })

  it('Should decode ConnectResponse, SubscriptionResponse, PingResponse and CloseResponse, both from the reference and from the server', () => {
    const fields = {
      pubPrefix: '_STAN.pub.c', subRequests: '_STAN.sub.c', unsubRequests: '_STAN.unsub.c', closeRequests: '_STAN.close.c',
      error: '', subCloseRequests: '_STAN.subclose.c', pingRequests: '_STAN.discover.c.pings', pingInterval: 5, pingMaxOut: 3, protocol: 1,
    }
    const cr = new pb.ConnectResponse()
    cr.setPubPrefix(fields.pubPrefix)
    cr.setSubRequests(fields.subRequests)
    cr.setUnsubRequests(fields.unsubRequests)
    cr.setCloseRequests(fields.closeRequests)
    cr.setSubCloseRequests(fields.subCloseRequests)
    cr.setPingRequests(fields.pingRequests)
    cr.setPingInterval(fields.pingInterval)
    cr.setPingMaxOut(fields.pingMaxOut)
    cr.setProtocol(fields.protocol)
    cr.setPublicKey('a field the client does not read')
    expect(decodeConnectResponse(bytesOf(cr))).toEqual(fields)
    expect(decodeConnectResponse(encodeConnectResponse(fields))).toEqual(fields)
    expect(decodeConnectResponse(encodeConnectResponse({ error: 'stan: clientID already registered' }))!.error).toBe('stan: clientID already registered')

    const sr = new pb.SubscriptionResponse()
    sr.setAckInbox('_INBOX.ack')
    sr.setError('stan: duplicate durable registration')
    expect(decodeSubscriptionResponse(bytesOf(sr))).toEqual({ ackInbox: '_INBOX.ack', error: 'stan: duplicate durable registration' })
    expect(decodeSubscriptionResponse(encodeSubscriptionResponse('_INBOX.ack'))).toEqual({ ackInbox: '_INBOX.ack', error: '' })

    const ping = new pb.PingResponse()
    ping.setError('gone')
    expect(decodePingResponse(bytesOf(ping))).toEqual({ error: 'gone' })
    expect(decodePingResponse(encodePingResponse())).toEqual({ error: '' })

    const close = new pb.CloseResponse()
    close.setError('stan: unknown clientID')
    expect(decodeCloseResponse(bytesOf(close))).toEqual({ error: 'stan: unknown clientID' })
    expect(decodeCloseResponse(encodeCloseResponse())).toEqual({ error: '' })
  })

  it('Should return undefined for a truncated MsgProto', () => {
    const full = encodeMsgProto(1, 'orders', '', Buffer.alloc(100), 1)
    expect(decodeMsgProto(full.subarray(0, 20))).toBeUndefined()
    expect(decodeMsgProto(Buffer.from([0x08]))).toBeUndefined()
  })
})
