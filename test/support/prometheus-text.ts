/**
 * The sum of the samples of `name` in Prometheus text output whose labels include every pair in `labels`
 * (e.g. http_requests_total with { route: '/order/:id', status: '404' }); 0 when none match.
 */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue
    const value = Number(line.slice(line.lastIndexOf(' ') + 1))
    const labelText = line[name.length] === '{' ? line.slice(name.length + 1, line.lastIndexOf('}')) : ''
    const present = new Map([...labelText.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((match) => [match[1]!, match[2]!]))
    if (Object.entries(labels).every(([key, wanted]) => present.get(key) === wanted)) sum += value
  }
  return sum
}
