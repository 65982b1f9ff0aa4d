// beam's dashboard page: follows /_beam/events (server-sent events) and
// draws what `beam status` shows. No framework, no build step: every value
// goes into the page through textContent or attributes, never as HTML.
'use strict'

const MAX_SAMPLES = 300
const MAX_LOGS = 200
const SVG_NS = 'http://www.w3.org/2000/svg'

const state = { processes: [], history: [], logs: [] }
const cards = new Map()

function bytes (n) {
  if (n < 1000) return `${n} B`
  const units = ['kB', 'MB', 'GB', 'TB']
  let v = n
  let u = -1
  while (v >= 1000 && u < units.length - 1) { v /= 1000; u++ }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

function duration (s) {
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  const h = Math.floor(s / 3600)
  return h < 48 ? `${h} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(h / 24)} d ${h % 24} h`
}

function pathText (p) {
  if (p == null) return 'no connection'
  return `${p.direct ? 'direct' : 'relayed'} (${p.transport})`
}

function el (tag, attrs = {}, text) {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  if (text != null) e.textContent = text
  return e
}

function svg (tag, attrs = {}, text) {
  const e = document.createElementNS(SVG_NS, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  if (text != null) e.textContent = text
  return e
}

/** Bytes per second each way of one process, from consecutive samples. */
function rates (pid) {
  const out = []
  for (let i = 1; i < state.history.length; i++) {
    const a = state.history[i - 1]
    const b = state.history[i]
    const pa = a.bytes[pid]
    const pb = b.bytes[pid]
    const dt = (b.t - a.t) / 1000
    if (pa == null || pb == null || dt <= 0) continue
    out.push({ t: b.t, sent: Math.max(0, pb[0] - pa[0]) / dt, received: Math.max(0, pb[1] - pa[1]) / dt })
  }
  return out
}

function drawChart (box, pid) {
  const W = 600
  const H = 140
  const pad = { l: 52, r: 6, t: 8, b: 18 }
  const points = rates(pid)
  const now = state.history.length > 0 ? state.history[state.history.length - 1].t : Date.now()
  const span = 5 * 60 * 1000
  const max = Math.max(1024, ...points.map(p => Math.max(p.sent, p.received)))
  const x = t => pad.l + (W - pad.l - pad.r) * (1 - (now - t) / span)
  const y = v => H - pad.b - (H - pad.t - pad.b) * (v / max)
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'throughput over the last five minutes' })
  root.append(svg('line', { class: 'axis', x1: pad.l, y1: H - pad.b, x2: W - pad.r, y2: H - pad.b }))
  root.append(svg('line', { class: 'axis', x1: pad.l, y1: pad.t, x2: pad.l, y2: H - pad.b }))
  root.append(svg('text', { class: 'label', x: 2, y: pad.t + 8 }, `${bytes(Math.round(max))}/s`))
  root.append(svg('text', { class: 'label', x: 2, y: H - pad.b }, '0'))
  root.append(svg('text', { class: 'label', x: pad.l, y: H - 4 }, '−5 min'))
  root.append(svg('text', { class: 'label', x: W - pad.r - 22, y: H - 4 }, 'now'))
  const visible = points.filter(p => now - p.t <= span)
  for (const dir of ['sent', 'received']) {
    if (visible.length === 0) continue
    const d = visible.map(p => `${x(p.t).toFixed(1)},${y(p[dir]).toFixed(1)}`).join(' ')
    root.append(svg('polyline', { class: `line-${dir}`, points: d }))
  }
  box.replaceChildren(root)
  const last = visible[visible.length - 1]
  return last != null ? `now: ${bytes(Math.round(last.sent))}/s sent, ${bytes(Math.round(last.received))}/s received` : ''
}

function cardFor (pid) {
  let card = cards.get(pid)
  if (card == null) {
    const tpl = document.getElementById('process-template')
    card = tpl.content.firstElementChild.cloneNode(true)
    card.dataset.pid = String(pid)
    card.querySelector('.copy').addEventListener('click', async ev => {
      const input = card.querySelector('.connect-text')
      try {
        await navigator.clipboard.writeText(input.value)
        ev.target.textContent = 'Copied'
      } catch {
        input.select()
        ev.target.textContent = 'Press Ctrl-C'
      }
      setTimeout(() => { ev.target.textContent = 'Copy' }, 2000)
    })
    document.getElementById('processes').append(card)
    cards.set(pid, card)
  }
  return card
}

function renderProcess ({ status: s, connect }) {
  const card = cardFor(s.pid)
  card.querySelector('.p-title').textContent = `beam ${s.command}${s.name != null ? ` ${s.name}` : ''} (pid ${s.pid})`
  const refused = s.tunnels.reduce((n, t) => n + t.refused, 0)
  const failed = s.tunnels.reduce((n, t) => n + t.failed, 0)
  const facts = [
    ['peer id', s.peerId],
    ['uptime', duration(s.uptimeSeconds)],
    ['reachable', s.reachability],
    ...(s.access != null ? [['access', s.access]] : []),
    ...(s.ports.length > 0 ? [[s.role === 'share' ? 'ports' : 'remote port', s.ports.join(', ')]] : []),
    ['connections', String(s.connections)],
    ['refused / failed', `${refused} / ${failed}`]
  ]
  const dl = card.querySelector('.facts')
  dl.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]))
  const box = card.querySelector('.connect')
  box.hidden = connect == null
  if (connect != null) {
    const input = card.querySelector('.connect-text')
    if (input.value !== connect) {
      input.value = connect
      // a new connect string (addresses changed): a new image
      card.querySelector('.qr').src = `/_beam/qr.svg?pid=${s.pid}&v=${Date.now()}`
    }
  }
  const body = card.querySelector('.tunnels tbody')
  body.replaceChildren(...s.tunnels.map(t => {
    const tr = el('tr', { 'data-peer': t.peer })
    tr.append(el('td', { class: 'peer', title: t.peer }, t.role === 'connect' && t.local != null ? `${t.peer} (local ${t.local})` : t.peer))
    tr.append(el('td', { title: t.path?.remote ?? '' }, pathText(t.path)))
    tr.append(el('td', { class: 'num' }, t.path?.rttMs != null ? `${t.path.rttMs} ms` : '–'))
    for (const f of ['open', 'total']) tr.append(el('td', { class: 'num', 'data-field': f }, String(t[f])))
    for (const f of ['sent', 'received']) tr.append(el('td', { class: 'num', 'data-field': f, 'data-bytes': String(t[f]) }, bytes(t[f])))
    for (const f of ['refused', 'failed']) tr.append(el('td', { class: `num${t[f] > 0 ? ' bad' : ''}`, 'data-field': f }, String(t[f])))
    return tr
  }))
  renderGateway(card, s.gateway)
  card.querySelector('.tunnels').hidden = s.tunnels.length === 0
  card.querySelector('.no-tunnels').hidden = s.tunnels.length > 0
  card.querySelector('.rate').textContent = drawChart(card.querySelector('.chart'), s.pid)
}

/** A share's web visitors, as its gateway reports them (`status.gateway`). */
function renderGateway (card, g) {
  const box = card.querySelector('.gateway')
  box.hidden = g == null
  if (g == null) return
  const link = card.querySelector('.gw-link')
  // only web addresses become links
  if (/^https?:\/\//.test(g.url)) link.setAttribute('href', g.url)
  link.textContent = g.url
  card.querySelector('.gw-state').textContent = g.state === 'lost' ? '(registration lost: registering again)' : ''
  const c = g.statusClasses
  const facts = [
    ['requests', String(g.requests)],
    ['status codes', ['2xx', '3xx', '4xx', '5xx', '1xx'].filter(k => c[k] > 0).map(k => `${c[k]} × ${k}`).join(', ') || '–'],
    ['latency p50 / p99 / max', g.latency != null ? `${g.latency.p50Ms} / ${g.latency.p99Ms} / ${g.latency.maxMs} ms` : '–'],
    ['from / to visitors', `${bytes(g.bytesIn)} / ${bytes(g.bytesOut)}`]
  ]
  card.querySelector('.gw-facts').replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': `gw-${k.split(' ')[0]}` }, v)]))
}

function render () {
  document.getElementById('empty').hidden = state.processes.length > 0
  if (state.processes.length === 0) document.getElementById('empty').textContent = 'no beam process runs in this home'
  const pids = new Set(state.processes.map(p => p.status.pid))
  for (const [pid, card] of cards) if (!pids.has(pid)) { card.remove(); cards.delete(pid) }
  for (const p of state.processes) renderProcess(p)
}

function addLogs (lines) {
  const list = document.getElementById('logs')
  const several = new Set(state.processes.map(p => p.status.pid)).size > 1
  for (const l of lines) {
    const li = el('li', { class: l.level })
    li.append(el('time', { datetime: new Date(l.time).toISOString() }, new Date(l.time).toLocaleTimeString()))
    li.append(document.createTextNode(`${several ? `[${l.pid}] ` : ''}${l.level.toUpperCase()} ${l.component != null ? `[${l.component}] ` : ''}${l.msg}`))
    list.append(li)
  }
  while (list.children.length > MAX_LOGS) list.firstElementChild.remove()
  list.scrollTop = list.scrollHeight
}

function live (on, text) {
  const b = document.getElementById('live')
  b.className = `badge ${on ? 'on' : 'off'}`
  b.textContent = text
}

const events = new EventSource('/_beam/events')
events.addEventListener('init', ev => {
  const d = JSON.parse(ev.data)
  document.title = d.title
  document.getElementById('title').textContent = d.title
  state.processes = d.processes
  state.history = d.history
  document.getElementById('logs').replaceChildren()
  addLogs(d.logs)
  render()
  live(true, 'live')
})
events.addEventListener('tick', ev => {
  const d = JSON.parse(ev.data)
  state.processes = d.processes
  state.history.push(d.sample)
  if (state.history.length > MAX_SAMPLES) state.history.splice(0, state.history.length - MAX_SAMPLES)
  addLogs(d.logs)
  render()
  live(true, 'live')
})
events.addEventListener('error', () => { live(false, events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…') })
