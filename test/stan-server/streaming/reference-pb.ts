import { createRequire } from 'node:module'

// node-nats-streaming's generated google-protobuf code: the reference for the broker's own codec, both ways.
const require = createRequire(import.meta.url)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const pb: any = require('node-nats-streaming/lib/pb/protocol_pb.js').pb

/** A reference message's wire bytes. */
export const bytesOf = (msg: { serializeBinary(): Uint8Array }): Buffer => Buffer.from(msg.serializeBinary())
