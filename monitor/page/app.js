// The live page: one EventSource on /events; every message is the monitor's whole state (coalesced by the
// server to at most a few per second), rendered with textContent only (names come from the network).
'use strict'
let state = null
let lastMessage = 0

const $ = (id) => document.getElementById(id)
function el(tag, attrs, ...children) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v)
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c === undefined || c === null ? '' : String(c)))
  return e
}
const clock = (t) => (t ? new Date(t * 1000).toLocaleTimeString([], { hour12: false }) : '–')
function ago(t, now) {
  if (!t) return '–'
  const s = Math.max(0, now - t)
  return s < 90 ? `${s.toFixed(s < 10 ? 1 : 0)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`
}
const hostLink = (name) => el('a', { href: `#host=${encodeURIComponent(name)}` }, name)
function fill(tbody, rows, empty, cols) {
  tbody.replaceChildren(...(rows.length ? rows : [el('tr', {}, el('td', { colspan: cols, class: 'empty' }, empty))]))
}
function eventItem(e) {
  const what = e.type === 'LOST' || e.type === 'RESTART' ? e.detail
    : e.type === 'DATA' ? `value ${e.value}${e.app ? ` from ${e.app}` : ''} (pid ${e.pid})`
    : `${e.app} (pid ${e.pid}${e.type === 'HANG' || e.type === 'RECOVERED' ? `, silent ${(e.since_beat_ms / 1000).toFixed(1)} s` : ''})`
  return el('li', {}, el('time', {}, clock(e.time)), el('span', { class: `tag ${e.type}` }, e.type), hostLink(e.host), el('span', {}, what))
}

function render() {
  if (!state) return
  const now = state.now + (Date.now() / 1000 - lastMessage)
  const hosts = state.hosts
  const regs = hosts.flatMap((h) => h.registrations.map((r) => ({ host: h.name, ...r })))
  const alive = regs.filter((r) => r.state === 'ok' || r.state === 'hung')
  const hung = regs.filter((r) => r.state === 'hung')
  const lost = hosts.reduce((n, h) => n + h.lost, 0)
  const card = (n, label, bad) => el('div', { class: `card${bad ? ' bad' : ''}` }, el('b', {}, n), el('span', {}, label))
  $('summary').replaceChildren(card(hosts.length, 'hosts'), card(alive.length, 'applications'), card(hung.length, 'hung now', hung.length > 0),
    card(hosts.reduce((n, h) => n + h.crashes, 0), 'crashes'), card(lost, 'frames lost', lost > 0))

  fill($('hosts').tBodies[0], hosts.map((h) => el('tr', { class: h.hung ? 'hung' : '', 'data-host': h.name },
    el('td', {}, hostLink(h.name)), el('td', {}, h.registered), el('td', { class: 'state' }, h.hung), el('td', {}, h.hangs),
    el('td', {}, h.crashes), el('td', { class: h.lost ? 'lost' : '' }, h.lost), el('td', {}, `${ago(h.last_frame, now)} ago`))), 'no frame received yet', 7)

  const order = { hung: 0, crashed: 1, ok: 2, stopped: 3 }
  const shown = regs.filter((r) => r.state !== 'stopped').sort((a, b) => order[a.state] - order[b.state] || a.host.localeCompare(b.host) || a.app.localeCompare(b.app))
  fill($('apps').tBodies[0], shown.map((r) => el('tr', { class: r.state, 'data-host': r.host, 'data-app': r.app },
    el('td', {}, hostLink(r.host)), el('td', {}, r.app), el('td', { class: 'state' }, r.state),
    el('td', {}, r.state === 'hung' ? ago(r.silent_since, now) : ''), el('td', {}, r.pid), el('td', {}, `${r.last_event} ${ago(r.last_event_time, now)} ago`))),
    'no application registered', 6)

  $('events').replaceChildren(...(state.events.length ? state.events.slice(-30).reverse().map(eventItem) : [el('li', { class: 'empty' }, 'no event yet')]))
  $('footer').textContent = `hbmon-monitor ${state.monitor.version} · ${state.frames} frames since ${clock(state.started)} · updated ${clock(state.now)}`
  renderDetail(now)
}

function renderDetail(now) {
  const m = /^#host=(.+)$/.exec(location.hash)
  const h = m && state.hosts.find((x) => x.name === decodeURIComponent(m[1]))
  $('detail').hidden = !h
  $('fleet').hidden = !!h
  if (!h) return
  $('detail-title').textContent = h.name
  $('detail-meta').textContent = `MAC ${h.macs.join(', ')} · boot ${h.boot_id ? h.boot_id.slice(0, 8) : '–'} · seq ${h.last_seq} · ${h.frames} frames · ` +
    `${h.lost} lost · ${h.socket_drops} dropped at the monitor · ${h.restarts} restarts · last frame ${ago(h.last_frame, now)} ago`
  fill($('detail-regs').tBodies[0], h.registrations.map((r) => el('tr', { class: r.state },
    el('td', {}, r.app), el('td', { class: 'state' }, r.state), el('td', {}, r.pid), el('td', {}, r.comm), el('td', {}, `${r.timeout_ms} ms`),
    el('td', {}, r.state === 'hung' ? ago(r.silent_since, now) : ''), el('td', {}, r.beats), el('td', {}, `${r.last_event} ${ago(r.last_event_time, now)} ago`))),
    'no registration', 8)
  fill($('detail-apps').tBodies[0], h.apps.map((a) => el('tr', {}, el('td', {}, a.app), el('td', {}, a.hangs), el('td', {}, a.crashes), el('td', {}, a.recoveries),
    el('td', {}, a.registrations), el('td', {}, `${a.last_event} ${ago(a.last_event_time, now)} ago`))), 'no application', 6)
  $('detail-events').replaceChildren(...h.events.slice().reverse().map(eventItem))
}

function connect() {
  const source = new EventSource('events')
  source.addEventListener('state', (msg) => {
    state = JSON.parse(msg.data)
    lastMessage = Date.now() / 1000
    $('live').textContent = 'live'
    $('live').className = 'live'
    render()
  })
  source.onerror = () => {
    $('live').textContent = 'reconnecting…'
    $('live').className = 'live off'
  }
}
window.addEventListener('hashchange', render)
setInterval(render, 1000) // the "ago" columns move on between messages
connect()
