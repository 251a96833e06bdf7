/**
 * A start-up problem that waiting will not fix (no nats-server installed, a JetStream stream without the
 * subject, ...): main says it in one line and exits with EX_CONFIG, without a stack trace.
 */
export class StartupError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message)
    this.name = 'StartupError'
  }
}
