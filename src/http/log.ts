/** What the HTTP layer logs through; a pino logger fits. */
export interface HttpLog {
  error(details: object, message: string): void
  warn(details: object, message: string): void
}
