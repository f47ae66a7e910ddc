// Host patterns: `web[01:50].example.com:2222`. Ported from ansible/parsing/utils/addresses.py (the port is
// split off only when what is left is a valid host name or address) and expand_hostname_range().

const numericRange = String.raw`\[(?:[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const hexRange = String.raw`\[(?:[0-9a-f]+:[0-9a-f]+)(?::[0-9]+)?\]`
const alnumRange = String.raw`\[(?:[a-z]:[a-z]|[0-9]+:[0-9]+)(?::[0-9]+)?\]`
const v6 = `(?:[0-9a-f]{1,4}|${hexRange})`
const v4 = `(?:[01]?[0-9]{1,2}|2[0-4][0-9]|25[0-5]|${numericRange})`
const label = String.raw`(?:[\p{L}\p{N}_]|${alnumRange})(?:[\p{L}\p{N}_-]|${alnumRange})*(?<![_-])`
const ipv6 =
  `^(?:(?:${v6}:){7}${v6}|(?:${v6}:){1,6}:|(?:${v6}:)(?::${v6}){1,6}|(?:${v6}:){2}(?::${v6}){1,5}|` +
  `(?:${v6}:){3}(?::${v6}){1,4}|(?:${v6}:){4}(?::${v6}){1,3}|(?:${v6}:){5}(?::${v6}){1,2}|` +
  `(?:${v6}:){6}(?::${v6})|:(?::${v6}){1,6}|${v6}?::|(?:0:){6}(?:${v6}\\.){3}${v6}|` +
  `::(?:ffff:)?(?:${v6}\\.){3}${v6}|(?:0:){5}ffff:(?:${v6}\\.){3}${v6}$)`
const addressPatterns = {
  bracketedHostPort: /^\[(.+)\]:([0-9]+)$/,
  hostPort: /^((?:[^:[\]]|\[[^\]]*\])*):([0-9]+)$/,
  ipv4: new RegExp(`^(?:${v4}\\.){3}${v4}$`, 'iu'),
  // Python's `^a|b|...|z$` anchors only the last alternative at the end; so does this.
  ipv6: new RegExp(ipv6, 'iu'),
  hostname: new RegExp(`^${label}(?:\\.${label})*$`, 'iu'),
}
// The same for an address of ASCII characters only: without Unicode case folding, whose \p{L} costs V8 ~4 ms
// to compile at every start. Equivalent on ASCII: the ASCII members of [\p{L}\p{N}_] are [A-Za-z0-9_], no
// other ASCII character folds to one of them, and the rest of the patterns is ASCII.
const asciiLabel = label.replaceAll(String.raw`\p{L}\p{N}`, 'A-Za-z0-9')
const asciiPatterns = [
  new RegExp(addressPatterns.ipv4.source, 'i'),
  new RegExp(ipv6, 'i'),
  new RegExp(`^${asciiLabel}(?:\\.${asciiLabel})*$`, 'i'),
]

const maxHosts = 100_000
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ' // Python's string.ascii_letters

/** ansible's parse_address(allow_ranges=True): host and port, or undefined when Ansible would not understand it. */
export function parseAddress(address: string): { host: string; port?: number } | undefined {
  let port: number | undefined
  for (const re of [addressPatterns.bracketedHostPort, addressPatterns.hostPort]) {
    const m = re.exec(address)
    if (m) [address, port] = [m[1]!, Number(m[2])]
  }
  const patterns = /^[\x00-\x7f]*$/.test(address)
    ? asciiPatterns
    : [addressPatterns.ipv4, addressPatterns.ipv6, addressPatterns.hostname]
  // Every alternative of ipv6 holds a colon: without one, its pattern (~2 ms to compile) cannot match.
  if (!patterns.some((re) => (re !== patterns[1] || address.includes(':')) && re.test(address))) return undefined
  return port === undefined ? { host: address } : { host: address, port }
}

/** Host names and port of one inventory host entry; `fail` is called with what is wrong with a range. */
export function expandHostPattern(
  pattern: string,
  fail: (reason: string) => never,
): { names: string[]; port?: number } {
  // Not a host[:port] Ansible understands: the whole key is the name (and may still hold ranges).
  const { host, port } = parseAddress(pattern) ?? { host: pattern }
  return { names: host.includes('[') ? expandRange(host, fail) : [host], ...(port === undefined ? {} : { port }) }
}

function expandRange(line: string, fail: (reason: string) => never, budget = { left: maxHosts }): string[] {
  const open = line.indexOf('[')
  const close = line.indexOf(']')
  if (close < open) fail(`unclosed host range in "${line}": expected [begin:end] or [begin:end:step]`)
  const [head, range, tail] = [line.slice(0, open), line.slice(open + 1, close), line.slice(close + 1)]
  const bounds = range.split(':')
  if (bounds.length !== 2 && bounds.length !== 3)
    fail(`bad host range [${range}]: expected [begin:end] or [begin:end:step]`)
  const [beg = '0', end, stepText = '1'] = bounds.map((b, i) => (i === 0 && b === '' ? '0' : b))
  if (!end) fail(`bad host range [${range}]: the end is missing`)
  if (!/^[0-9]+$/.test(stepText) || Number(stepText) === 0)
    fail(`bad host range [${range}]: the step must be a positive integer`)
  const step = Number(stepText)
  let seq: string[] = []
  if (letters.includes(beg) && beg.length === 1 && letters.includes(end) && end.length === 1) {
    const [from, to] = [letters.indexOf(beg), letters.indexOf(end)]
    if (from > to) fail(`bad host range [${range}]: begin must not come after end`)
    for (let i = from; i <= to; i += step) seq.push(letters[i]!)
  } else if (/^[0-9]+$/.test(beg) && /^[0-9]+$/.test(end)) {
    const width = beg[0] === '0' && beg.length > 1 ? beg.length : 0 // a leading zero asks for zero-padding
    if (width && end.length !== width)
      fail(`bad host range [${range}]: begin and end must have the same number of digits`)
    if (Number(end) < Number(beg)) fail(`bad host range [${range}]: it is empty (begin after end)`)
    if ((Number(end) - Number(beg)) / step >= budget.left)
      fail(`host range [${range}] makes more than ${maxHosts} hosts`)
    for (let i = Number(beg); i <= Number(end); i += step) seq.push(String(i).padStart(width, '0'))
  } else fail(`bad host range [${range}]: expected numbers ([1:9], [01:50]) or single letters ([a:f])`)
  const names: string[] = []
  for (const item of seq) {
    const name = head + item + tail
    if (name.includes('[')) names.push(...expandRange(name, fail, budget))
    else names.push(name)
    if (--budget.left < 0) fail(`host pattern "${line}" makes more than ${maxHosts} hosts`)
  }
  return names
}
