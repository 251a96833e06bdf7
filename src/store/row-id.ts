/** PostgreSQL's bigint maximum; compared as text (same length), which never throws whatever came in. */
const BIGINT_MAX = '9223372036854775807'

const DIGITS = /^[1-9][0-9]{0,18}$/

/**
 * The one rule for a row id (a dead letter's `id`, an order's `ingest_id`: bigserial columns), wherever one comes
 * in (a path, a keyset cursor, a replay): a positive PostgreSQL bigint in decimal digits without leading zeros,
 * 1 to 9223372036854775807. Anything else names no row, and is never cast by PostgreSQL (which would fail).
 */
export function isRowId(text: string): boolean {
  return DIGITS.test(text) && (text.length < BIGINT_MAX.length || text <= BIGINT_MAX)
}

/** The rule in words, for error messages. */
export const ROW_ID_RULE = `a whole number from 1 to ${BIGINT_MAX}`
