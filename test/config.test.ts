import { describe, expect, it } from 'vitest'
import { loadConfig } from '../src/config.js'
import { ConfigError } from '../src/errors.js'

describe('configuration', () => {
  it('When nothing is set, then the documented defaults apply and embedded servers are used', () => {
    const config = loadConfig({}, 'web-1')
    expect(config).toMatchObject({
      HTTP_HOST: '127.0.0.1',
      HTTP_PORT: 8000,
      STAN_CLUSTER_ID: 'test-cluster',
      STAN_CLIENT_ID: 'order-service-web-1-8000',
      STAN_CHANNEL: 'orders',
      STAN_DURABLE: 'order-service',
      STAN_QUEUE_GROUP: 'order-service',
      STAN_LEGACY_CLIENT_ID: 'order-service',
      DATA_DIR: './.data',
      LOG_LEVEL: 'info',
      STAN_MAX_IN_FLIGHT: 4096,
      BATCH_MAX_SIZE: 500,
      GATE_THREAD: 'on',
    })
    expect(config.DATABASE_URL).toBeUndefined()
    expect(config.STAN_URL).toBeUndefined()
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('When several values are wrong, then one error names every problem', () => {
    let error: unknown
    try {
      loadConfig({ HTTP_PORT: 'eighty', DATABASE_URL: 'mysql://x', STAN_CHANNEL: 'orders.>', ADMIN_TOKEN: 'short', GATE_THREAD: 'yes' })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of ['HTTP_PORT', 'DATABASE_URL', 'STAN_CHANNEL', 'ADMIN_TOKEN', 'GATE_THREAD']) expect(problems).toContain(name)
  })

  it('When DATABASE_URL names several hosts the libpq way, then it is accepted as written; a malformed entry or an unknown target_session_attrs is named in one line', () => {
    const url = 'postgres://u:p%2Cw@db1.example:5432,10.0.0.2:5433,[::1]/orders?target_session_attrs=read-write'
    expect(loadConfig({ DATABASE_URL: url }).DATABASE_URL).toBe(url)
    for (const accepted of ['postgresql://u@h1,h2/orders', 'postgres:///orders', 'postgres://u@%2Fvar%2Frun%2Fpostgresql/orders']) {
      expect(loadConfig({ DATABASE_URL: accepted }).DATABASE_URL).toBe(accepted)
    }
    for (const [value, problem] of [
      ['postgres://u:p@h1:5432,h2:99999/orders', 'DATABASE_URL: host entry "h2:99999" is malformed'],
      ['postgres://u:p@h1:5432,,h2/orders', 'DATABASE_URL: host entry "" is malformed'],
      ['postgres://u:p@h1:5432,h 2/orders', 'DATABASE_URL: host entry "h 2" is malformed'],
      ['postgres://u:p@h1,h2/orders?target_session_attrs=any', 'DATABASE_URL: target_session_attrs=any is not understood: use one of read-write, read-only, primary, standby, prefer-standby'],
      ['mysql://h1/orders', 'DATABASE_URL: must start with postgres:// or postgresql://'],
    ]) {
      expect(() => loadConfig({ DATABASE_URL: value })).toThrow(problem)
    }
    expect(() => loadConfig({ DATABASE_LISTEN_URL: 'postgres://u@h1/orders' })).toThrow('DATABASE_LISTEN_URL: is used only with DATABASE_URL')
    expect(loadConfig({}).DATABASE_POOLER).toBe('none')
    expect(() => loadConfig({ DATABASE_POOLER: 'session' })).toThrow('DATABASE_POOLER: must be none or transaction')
  })

  it('When STAN_URL is a comma-separated list, then it is trimmed into servers; a bad entry is named', () => {
    expect(loadConfig({ STAN_URL: ' nats://a:4222 ,nats://b:4223' }).STAN_URL).toEqual(['nats://a:4222', 'nats://b:4223'])
    for (const [value, bad] of [['nats://a:4222,http://b:4222', 'http://b:4222'], ['nats://a:4222,', ''], ['nats://', 'nats://'], ['a:4222', 'a:4222']]) {
      expect(() => loadConfig({ STAN_URL: value })).toThrow(`STAN_URL: must start with nats:// and name a host, each of a comma-separated list; not "${bad}"`)
    }
  })

  it('When STAN_CLIENT_ID is unset, then it is derived from the host and HTTP port: unique per instance, the same after a restart', () => {
    expect(loadConfig({ HTTP_PORT: '8001' }, 'web-1').STAN_CLIENT_ID).toBe('order-service-web-1-8001')
    expect(loadConfig({ HTTP_PORT: '8001' }, 'web-1').STAN_CLIENT_ID).toBe(loadConfig({ HTTP_PORT: '8001' }, 'web-1').STAN_CLIENT_ID)
    expect(loadConfig({ HTTP_PORT: '8002' }, 'web-1').STAN_CLIENT_ID).not.toBe(loadConfig({ HTTP_PORT: '8001' }, 'web-1').STAN_CLIENT_ID)
    // Other characters and long names are cut and tagged with a hash, so names differing only there still differ.
    const dotted = loadConfig({}, 'web.example.com').STAN_CLIENT_ID
    const underscored = loadConfig({}, 'web_example_com').STAN_CLIENT_ID
    expect(dotted).toMatch(/^order-service-web_example_com-[0-9a-f]{8}-8000$/)
    expect(dotted).not.toBe(underscored)
    for (const host of ['h'.repeat(200), 'ip-10-0-0-1.eu-west-1.compute.internal.some-very-long-suffix']) {
      expect(loadConfig({}, host).STAN_CLIENT_ID).toMatch(/^[A-Za-z0-9_-]{1,64}$/)
    }
    expect(loadConfig({ STAN_CLIENT_ID: 'mine' }, 'web-1').STAN_CLIENT_ID).toBe('mine')
  })

  it('Should turn numbers into numbers and treat empty values as unset', () => {
    const config = loadConfig({ HTTP_PORT: '9000', CACHE_MAX_BYTES: '1048576', DATABASE_URL: '' })
    expect(config.HTTP_PORT).toBe(9000)
    expect(config.CACHE_MAX_BYTES).toBe(1048576)
    expect(config.DATABASE_URL).toBeUndefined()
  })
  it('When WRITE_TIMEOUT_MS is unset, then it is 10 s, or half the ack wait when that is shorter', () => {
    expect(loadConfig({}).WRITE_TIMEOUT_MS).toBe(10_000)
    expect(loadConfig({ STAN_ACK_WAIT_SECONDS: '4' }).WRITE_TIMEOUT_MS).toBe(2_000)
    expect(loadConfig({}).QUERY_TIMEOUT_MS).toBe(5_000)
    expect(loadConfig({}).MIGRATION_TIMEOUT_MS).toBe(60_000)
  })

  it('When WRITE_TIMEOUT_MS is not below the ack wait, then the configuration is refused, naming it', () => {
    expect(loadConfig({ WRITE_TIMEOUT_MS: '4999', STAN_ACK_WAIT_SECONDS: '5' }).WRITE_TIMEOUT_MS).toBe(4_999)
    expect(() => loadConfig({ WRITE_TIMEOUT_MS: '5000', STAN_ACK_WAIT_SECONDS: '5' })).toThrow(/WRITE_TIMEOUT_MS: must be below STAN_ACK_WAIT_SECONDS/)
    expect(() => loadConfig({ WRITE_TIMEOUT_MS: '15001' })).toThrow(/WRITE_TIMEOUT_MS: must be from 100 to 15000/)
  })

  it('When BROKER is unset, then NATS Streaming is used and the JetStream settings have their documented defaults', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      BROKER: 'stan',
      JETSTREAM_STREAM: 'ORDERS',
      JETSTREAM_SUBJECT: 'orders',
      JETSTREAM_CONSUMER: 'order-service',
      JETSTREAM_REPLICAS: 1,
      JETSTREAM_ACK_WAIT_SECONDS: 30,
      JETSTREAM_MAX_ACK_PENDING: 16384,
      JETSTREAM_MAX_IN_FLIGHT: 4096,
      EMBEDDED_NATS_PORT: 4223,
    })
    expect(config.NATS_URL).toBeUndefined()
  })

  it('When NATS_URL lists servers, then they are split and trimmed; a bad entry is named', () => {
    const config = loadConfig({ BROKER: 'jetstream', NATS_URL: 'nats://a:4222, nats://b:4222 ,nats://10.0.0.3:4222', JETSTREAM_REPLICAS: '3' })
    expect(config.NATS_URL).toEqual(['nats://a:4222', 'nats://b:4222', 'nats://10.0.0.3:4222'])
    expect(config.JETSTREAM_REPLICAS).toBe(3)
    let error: unknown
    try {
      loadConfig({ BROKER: 'kafka', NATS_URL: 'nats://a:4222,http://b:80,', JETSTREAM_REPLICAS: '2' })
    } catch (caught) {
      error = caught
    }
    const problems = (error as ConfigError).problems.join('\n')
    expect(problems).toContain('BROKER')
    expect(problems).toContain('not "http://b:80"')
    expect(problems).toContain('not ""')
    expect(problems).not.toContain('nats://a:4222"')
    expect(problems).toContain('JETSTREAM_REPLICAS')
  })
})
