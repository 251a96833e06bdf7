/**
 * Runs `measure` `times` times, one after another, and returns the median and the spread: the machine is shared,
 * so a single run can land in someone else's burst.
 */
export async function medianOf(times: number, measure: () => Promise<number>): Promise<{ median: number; min: number; max: number }> {
  const values: number[] = []
  for (let i = 0; i < times; i++) values.push(await measure())
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) }
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  const sorted = values.toSorted((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
