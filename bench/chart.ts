// The rollout curve as SVG, drawn from bench/results/fleet.json without a browser: rollout time (wall) and
// the controller's CPU against the number of hosts, both tools, cold and with no change; log-scaled time, so
// that both tools' lines stay readable when one is fifteen times the other.
import type { FleetPoint } from './fleet.ts'

type Run = keyof FleetPoint['runs']
const series: { run: Run; color: string; dash?: string }[] = [
  { run: 'ansible cold', color: '#c0392b' },
  { run: 'ansible no-change', color: '#c0392b', dash: '6 4' },
  { run: 'deploy cold', color: '#1f6fb2' },
  { run: 'deploy no-change', color: '#1f6fb2', dash: '6 4' },
]

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;')

function panel(
  points: FleetPoint[],
  value: (m: FleetPoint['runs'][Run]) => number,
  title: string,
  x0: number,
): string[] {
  const w = 380
  const h = 260
  const left = x0 + 50
  const top = 40
  const hosts = points.map((p) => p.hosts)
  const values = points.flatMap((p) => series.map((s) => value(p.runs[s.run]))).filter((v) => v > 0)
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))))
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))))
  const maxHosts = Math.max(...hosts)
  const x = (n: number) => left + (n / maxHosts) * w
  const y = (v: number) => top + h - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.log10(hi / lo)) * h
  const out = [
    `<text x="${left + w / 2}" y="20" text-anchor="middle" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${left}" y1="${top + h}" x2="${left + w}" y2="${top + h}" stroke="#333"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="#333"/>`,
  ]
  for (let d = lo; d <= hi; d *= 10) {
    out.push(`<line x1="${left}" y1="${y(d)}" x2="${left + w}" y2="${y(d)}" stroke="#ddd"/>`)
    out.push(`<text x="${left - 6}" y="${y(d) + 4}" text-anchor="end">${d >= 1 ? d : d.toPrecision(1)} s</text>`)
  }
  for (const n of hosts) {
    out.push(`<line x1="${x(n)}" y1="${top + h}" x2="${x(n)}" y2="${top + h + 5}" stroke="#333"/>`)
    out.push(`<text x="${x(n)}" y="${top + h + 18}" text-anchor="middle">${n}</text>`)
  }
  out.push(`<text x="${left + w / 2}" y="${top + h + 36}" text-anchor="middle">hosts</text>`)
  for (const s of series) {
    const pts = points.map((p) => `${x(p.hosts).toFixed(1)},${y(value(p.runs[s.run])).toFixed(1)}`)
    out.push(
      `<polyline fill="none" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''} points="${pts.join(' ')}"/>`,
    )
    for (const pt of pts) {
      const [cx, cy] = pt.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${s.color}"/>`)
    }
  }
  return out
}

/** The SVG document: wall time and controller CPU side by side, with a legend. */
export function fleetChart(points: FleetPoint[]): string {
  const sorted = [...points].sort((a, b) => a.hosts - b.hosts)
  const legend = series.map(
    (s, i) =>
      `<line x1="${60 + i * 200}" y1="350" x2="${90 + i * 200}" y2="350" stroke="${s.color}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>` +
      `<text x="${96 + i * 200}" y="354">${esc(s.run.replace('deploy', 'npx deploy').replace('ansible', 'ansible-playbook'))}</text>`,
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="900" height="370" font-family="sans-serif" font-size="12">`,
    `<rect width="900" height="370" fill="white"/>`,
    ...panel(sorted, (m) => m.wall_s, 'Rollout time (wall, log scale)', 0),
    ...panel(sorted, (m) => m.cpu_s, 'Controller CPU (user + system, log scale)', 450),
    ...legend,
    '</svg>',
    '',
  ].join('\n')
}
