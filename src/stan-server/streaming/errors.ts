/** Error texts exactly as nats-streaming-server 0.25 sends them (server/server.go); clients match on them. */
export const StanError = {
  InvalidSubject: 'stan: invalid subject',
  InvalidStart: 'stan: invalid start position',
  InvalidSub: 'stan: invalid subscription',
  InvalidClient: 'stan: clientID already registered',
  MissingClient: 'stan: clientID missing',
  InvalidClientID: 'stan: invalid clientID: only alphanumeric and `-` or `_` characters allowed',
  InvalidAckWait: 'stan: invalid ack wait time, should be >= 1s',
  InvalidMaxInflight: 'stan: invalid MaxInflight, should be >= 1',
  InvalidConnReq: 'stan: invalid connection request',
  InvalidPubReq: 'stan: invalid publish request',
  InvalidSubReq: 'stan: invalid subscription request',
  InvalidUnsubReq: 'stan: invalid unsubscribe request',
  InvalidCloseReq: 'stan: invalid close request',
  DupDurable: 'stan: duplicate durable registration',
  InvalidDurName: "stan: durable name of a durable queue subscriber can't contain the character ':'",
  UnknownClient: 'stan: unknown clientID',
  UnknownChannel: 'stan: unknown channel',
  /** Store limits (stores.ErrTooManyChannels, stores.ErrTooManySubs), sent as the store words them. */
  TooManyChannels: 'too many channels',
  TooManySubs: 'too many subscriptions per channel',
  /** PingResponse error for a connection that is no longer the registered one. */
  ClientReplaced: 'client has been replaced or is no longer registered',
} as const
export type StanError = (typeof StanError)[keyof typeof StanError]
