// What a host name, group name, variable name or address may contain. They end up in ssh targets, known_hosts
// lookups, progress lines and remote commands' environments; a name holding `;`, `$(`, a quote, a space or a
// newline is a mistake or an attack either way, so it is refused before anything connects (Ansible only warns
// about odd group names and accepts the rest).

const allowed = {
  // letters, digits, `_ . -`, `[a:b]` ranges, `:port`
  'host name': /[A-Za-z0-9_.:[\]-]/,
  // what Ansible calls valid, plus `-` and `.` (which it accepts with a warning)
  'group name': /[A-Za-z0-9_.-]/,
  // a Python identifier, as templating needs
  'variable name': /\w/,
  // a DNS name, an IPv4 or IPv6 address (optionally with a %zone)
  address: /[A-Za-z0-9_.:%-]/,
} as const

/** Why `value` is not a valid `what`, or undefined when it is. */
export function badName(what: keyof typeof allowed, value: string): string | undefined {
  const odd = [...value].find((c) => !allowed[what].test(c))
  if (odd !== undefined) return `${JSON.stringify(value)} is not a valid ${what}: ${JSON.stringify(odd)} is not allowed`
  if (what === 'variable name' && /^\d/.test(value)) return `${JSON.stringify(value)} is not a valid ${what}`
  return undefined
}
