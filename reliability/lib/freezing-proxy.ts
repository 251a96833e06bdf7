/**
 * Moved to test/support/tcp-proxy.ts. Kept only for test/ingest/{stan,jetstream}-subscription-hung.test.ts, which
 * another change of issue 20 rewrites: delete this file once they import test/support/tcp-proxy.js.
 */
export { startFreezingProxy, type FreezingProxy } from '../../test/support/tcp-proxy.js'
