/**
 * Runs `measure` `times` times, one after another, and returns the median and the spread: the machine is shared,
 * so a single run can land in someone else's burst.
 */
export async function medianOf(times: number, measure: () => Promise<number>): Promise<{ median: number; min: number; max: number }> {
  const values: number[] = []
  for (let i = 0; i < times; i++) values.push(await measure())
  values.sort((a, b) => a - b)
  const mid = Math.floor(values.length / 2)
  const median = values.length % 2 === 1 ? values[mid]! : (values[mid - 1]! + values[mid]!) / 2
  return { median, min: values[0]!, max: values[values.length - 1]! }
}
