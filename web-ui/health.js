// Health view: tiles, SVG traffic chart (drawn by hand), status codes, recent errors.
import { h, s, isObj, fmtInt, fmtRate, fmtDuration, fmtUptime, fmtClock, parseTime, relTime, codeClass } from './util.js';

const MAX_POINTS = 150; // 5 minutes at one sample every 2 s
const WINDOW_MS = 5 * 60 * 1000;

export class HealthView {
  constructor(pollMs) {
    this.pollMs = pollMs;
    this.samples = []; // {t, rate, latency, gap}
    this.prev = null; // previous raw /health payload (+ client time)
    this.last = null;
    this.hover = null; // index of hovered sample
    this.visible = false;
    this.svg = document.getElementById('health-chart');
    this.wrap = document.getElementById('chart-wrap');
    this.tooltip = document.getElementById('chart-tooltip');
    this.width = 0;

    new ResizeObserver(() => { if (this.visible) this.drawChart(); }).observe(this.wrap);
    this.wrap.addEventListener('pointermove', (e) => this.onPointer(e));
    this.wrap.addEventListener('pointerleave', () => { this.hover = null; this.drawChart(); });
  }

  /** Feed one /health payload (called on every successful poll, even when the view is hidden). */
  ingest(d, now = Date.now()) {
    if (!isObj(d)) return;
    const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
    const cur = {
      t: now,
      uptime: num(d.uptime_sec),
      total: num(d.total_count),
      totalTime: num(d.total_response_time_sec),
      avg: num(d.average_response_time_sec),
      live: num(d.count),
      pid: d.pid,
    };
    const p = this.prev;
    let rate = null, latency = null, gap = false;
    const restarted = !p || p.pid !== cur.pid || (cur.total !== null && p.total !== null && cur.total < p.total)
      || (cur.uptime !== null && p.uptime !== null && cur.uptime < p.uptime);
    if (!restarted) {
      const dt = cur.uptime !== null && p.uptime !== null && cur.uptime > p.uptime ? cur.uptime - p.uptime : (cur.t - p.t) / 1000;
      const dn = cur.total !== null && p.total !== null ? cur.total - p.total : null;
      if (dn !== null && dt > 0) rate = dn / dt;
      if (dn > 0 && cur.totalTime !== null && p.totalTime !== null) latency = Math.max(0, (cur.totalTime - p.totalTime) / dn);
      gap = cur.t - p.t > this.pollMs * 3;
    } else {
      if (p) this.samples = [];
      rate = cur.live; // the live window covers the last second
      latency = cur.total === 0 ? null : cur.avg; // no request yet: no response time to draw (not 0 ms)
    }
    this.samples.push({ t: now, rate, latency, gap });
    const cutoff = now - WINDOW_MS;
    while (this.samples.length > MAX_POINTS || (this.samples.length > 2 && this.samples[0].t < cutoff)) this.samples.shift();
    this.prev = cur;
    this.last = d;
    this.render();
  }

  show() {
    this.visible = true;
    this.render();
  }

  hide() { this.visible = false; }

  render() {
    const d = this.last;
    if (!d) { if (this.visible) this.drawChart(); return; }
    const latest = this.samples[this.samples.length - 1];
    setVal('req-rate', latest?.rate, fmtRate(latest?.rate));
    setVal('live-count', d.count, fmtInt(d.count));
    const lat = latest?.latency ?? lastLatency(this.samples) ?? d.average_response_time_sec;
    setVal('avg-response-time', lat, fmtDuration(lat));
    setVal('avg-response-time-total', d.average_response_time_sec, fmtDuration(d.average_response_time_sec));
    setVal('total-count', d.total_count, fmtInt(d.total_count));
    setVal('uptime', d.uptime_sec, Number.isFinite(d.uptime_sec) ? fmtUptime(d.uptime_sec) : (d.uptime ?? '—'));
    setVal('pid', d.pid, d.pid ?? '—');

    const totals = isObj(d.total_status_code_count) ? d.total_status_code_count : {};
    const live = isObj(d.status_code_count) ? d.status_code_count : {};
    const totalAll = Object.values(totals).reduce((a, v) => a + (Number(v) || 0), 0);
    const errs = Object.entries(totals).filter(([c]) => Number(c) >= 400).reduce((a, [, v]) => a + (Number(v) || 0), 0);
    const errRate = totalAll ? errs / totalAll : null;
    const er = document.getElementById('error-rate');
    er.textContent = errRate === null ? '—' : `${(errRate * 100).toFixed(errRate < 0.1 ? 1 : 0)}%`;
    er.dataset.value = errRate ?? '';
    er.className = errRate >= 0.05 ? 'bad-text' : errRate > 0 ? 'warn-text' : '';

    this.renderCodes(totals, live, totalAll);
    this.renderErrors(Array.isArray(d.recent_errors) ? d.recent_errors : []);
    if (this.visible) this.drawChart(); else this.svg.dataset.points = String(this.samples.length);
  }

  renderCodes(totals, live, totalAll) {
    const codes = [...new Set([...Object.keys(totals), ...Object.keys(live)])].sort((a, b) => Number(a) - Number(b));
    const tbody = document.querySelector('#status-codes tbody');
    const max = Math.max(1, ...codes.map((c) => Number(totals[c]) || 0));
    tbody.replaceChildren(...codes.map((c) => {
      const t = Number(totals[c]) || 0, l = Number(live[c]) || 0;
      const cls = codeClass(c);
      return h('tr', { 'data-status-code': c },
        h('th', { scope: 'row' }, h('span', { class: ['code', cls] }, c), h('span', { class: 'code-text' }, statusText(c))),
        h('td', { class: 'num', 'data-field': 'live', 'data-value': l }, String(l)),
        h('td', { class: 'num', 'data-field': 'total', 'data-value': t }, String(t)),
        h('td', { class: 'bar-col' }, h('span', { class: 'hbar', title: totalAll ? `${((t / totalAll) * 100).toFixed(1)}% of all requests` : '' },
          h('span', { class: cls, style: `width:${(t / max) * 100}%` }))));
    }));
    document.getElementById('status-codes').hidden = !codes.length;
    document.getElementById('status-codes-empty').hidden = !!codes.length;

    // Stacked split bar by class (2xx/3xx/4xx/5xx) across all requests.
    const byClass = {};
    for (const [c, v] of Object.entries(totals)) byClass[codeClass(c)] = (byClass[codeClass(c)] || 0) + (Number(v) || 0);
    const split = document.getElementById('status-split');
    const names = { s1: '1xx', s2: '2xx', s3: '3xx', s4: '4xx', s5: '5xx' };
    split.replaceChildren(...Object.keys(names).filter((k) => byClass[k]).map((k) => {
      const pct = (byClass[k] / totalAll) * 100;
      return h('span', { class: ['split', k], style: `flex-grow:${byClass[k]}`, title: `${names[k]}: ${byClass[k]}` },
        pct >= 12 ? `${names[k]} ${pct.toFixed(pct < 99.95 ? 1 : 0)}%` : '');
    }));
    split.hidden = !totalAll;
  }

  renderErrors(list) {
    const rows = list.map((e) => ({ e, time: parseTime(e?.time) }));
    if (rows.every((r) => r.time)) rows.sort((a, b) => b.time - a.time);
    const tbody = document.querySelector('#recent-errors tbody');
    tbody.replaceChildren(...rows.map(({ e, time }) => {
      e = isObj(e) ? e : {};
      return h('tr', { 'data-error': '', 'data-status-code': e.status_code ?? '' },
        h('td', null, h('span', { class: ['code', codeClass(e.status_code)] }, e.status_code ?? '?'), h('span', { class: 'code-text' }, e.status ?? '')),
        h('td', { class: 'req-cell' }, h('span', { class: 'method' }, e.method ?? ''), ' ',
          h('code', { class: 'req' }, h('span', { class: 'host' }, e.host ?? ''), e.path ?? '')),
        h('td', { class: 'num time-cell' }, time ? relTime(time, e.time) : (e.time ?? '')));
    }));
    document.getElementById('recent-errors-count').textContent = String(list.length);
    document.getElementById('recent-errors').hidden = !list.length;
    document.getElementById('recent-errors-empty').hidden = !!list.length;
  }

  // ---------------------------------------------------------------- chart

  layout() {
    const W = Math.max(280, Math.round(this.wrap.clientWidth || 600));
    const narrow = W < 520;
    const padL = narrow ? 46 : 56, padR = narrow ? 10 : 16, top = 22, panelH = narrow ? 96 : 112, gapH = 42, axisH = 24;
    return { W, H: top + panelH * 2 + gapH + axisH, padL, padR, top, panelH, gapH, narrow };
  }

  drawChart() {
    const svg = this.svg;
    const L = this.layout();
    const data = this.samples;
    svg.setAttribute('viewBox', `0 0 ${L.W} ${L.H}`);
    svg.setAttribute('width', L.W);
    svg.setAttribute('height', L.H);
    svg.dataset.points = String(data.length);
    const latest = data[data.length - 1];
    svg.setAttribute('aria-label', latest
      ? `Traffic chart, ${data.length} samples. Latest: ${fmtRate(latest.rate)} requests per second, average response time ${fmtDuration(latest.latency)}.`
      : 'Traffic chart: collecting data');

    const kids = [];
    const defs = s('defs', null,
      s('linearGradient', { id: 'rate-fill', x1: 0, y1: 0, x2: 0, y2: 1 },
        s('stop', { offset: '0%', class: 'rate-stop-top' }), s('stop', { offset: '100%', class: 'rate-stop-bottom' })));
    kids.push(defs);

    const x0 = L.padL, x1 = L.W - L.padR;
    const tMax = latest ? latest.t : Date.now();
    const tMin = data.length > 1 ? Math.max(data[0].t, tMax - WINDOW_MS) : tMax - 60_000;
    const span = Math.max(1, tMax - tMin);
    const X = (t) => x0 + ((t - tMin) / span) * (x1 - x0);

    const panels = [
      { key: 'rate', title: 'Requests / s', y: L.top, fmt: (v) => trimZeros(String(Number(v.toPrecision(3)))), cls: 'rate' },
      { key: 'latency', title: 'Avg response time', y: L.top + L.panelH + L.gapH, fmt: (v) => trimZeros(fmtDuration(v)), cls: 'latency' },
    ];

    for (const p of panels) {
      const vals = data.map((d) => d[p.key]).filter((v) => Number.isFinite(v));
      const { max, ticks } = niceScale(vals.length ? Math.max(...vals) : 0, p.key === 'latency');
      const Y = (v) => p.y + L.panelH - (v / max) * L.panelH;
      p.Y = Y;
      const g = s('g', { class: `panel-${p.cls}` });
      for (const tk of ticks) {
        const y = Y(tk);
        g.append(s('line', { class: tk === 0 ? 'axis' : 'grid', x1: x0, x2: x1, y1: y, y2: y }));
        g.append(s('text', { class: 'tick', x: x0 - 6, y: y + 4, 'text-anchor': 'end' }, p.fmt(tk)));
      }
      g.append(s('text', { class: 'panel-title', x: x0, y: p.y - 9 }, p.title));

      // Build segments split at gaps / missing values.
      const segs = [];
      let cur = [];
      for (const d of data) {
        const v = d[p.key];
        if (d.gap && cur.length) { segs.push(cur); cur = []; }
        if (!Number.isFinite(v)) { if (p.key === 'rate' && cur.length) { segs.push(cur); cur = []; } continue; }
        cur.push([X(d.t), Y(v)]);
      }
      if (cur.length) segs.push(cur);
      for (const seg of segs) {
        const line = seg.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
        if (p.key === 'rate' && seg.length > 1) {
          const base = Y(0).toFixed(1);
          g.append(s('path', { class: 'area', d: `${line}L${seg[seg.length - 1][0].toFixed(1)},${base}L${seg[0][0].toFixed(1)},${base}Z` }));
        }
        g.append(s('path', { class: 'line', d: line }));
        if (seg.length === 1) g.append(s('circle', { class: 'pt', cx: seg[0][0], cy: seg[0][1], r: 2.5 }));
      }
      // Latest value marker.
      const lastP = [...data].reverse().find((d) => Number.isFinite(d[p.key]));
      if (lastP) g.append(s('circle', { class: 'last', cx: X(lastP.t), cy: Y(lastP[p.key]), r: 3.5 }));
      kids.push(g);
    }

    // Time axis.
    const axisY = L.top + L.panelH * 2 + L.gapH + 16;
    const nT = L.narrow ? 3 : 6;
    const axis = s('g', { class: 'time-axis' });
    for (let i = 0; i <= nT; i++) {
      const t = tMin + (span * i) / nT;
      const anchor = i === 0 ? 'start' : i === nT ? 'end' : 'middle';
      axis.append(s('text', { class: 'tick', x: X(t), y: axisY, 'text-anchor': anchor }, fmtClock(new Date(t))));
    }
    kids.push(axis);

    if (data.length < 2) {
      kids.push(s('text', { class: 'chart-empty', x: (x0 + x1) / 2, y: L.top + L.panelH + L.gapH / 2 + 5, 'text-anchor': 'middle' },
        this.last ? 'Collecting samples…' : 'Waiting for data…'));
    }

    // Hover crosshair.
    if (this.hover !== null && data[this.hover]) {
      const d = data[this.hover];
      const x = X(d.t);
      const hg = s('g', { class: 'hover' });
      hg.append(s('line', { class: 'crosshair', x1: x, x2: x, y1: L.top, y2: L.top + L.panelH * 2 + L.gapH }));
      for (const p of panels) if (Number.isFinite(d[p.key])) hg.append(s('circle', { class: `hover-pt ${p.cls}`, cx: x, cy: p.Y(d[p.key]), r: 4 }));
      kids.push(hg);
      this.tooltip.replaceChildren(
        h('div', { class: 'tt-time' }, fmtClock(new Date(d.t))),
        h('div', null, h('span', { class: 'swatch swatch-rate' }), `${fmtRate(d.rate)} req/s`),
        h('div', null, h('span', { class: 'swatch swatch-latency' }), Number.isFinite(d.latency) ? `${fmtDuration(d.latency)} avg` : 'no requests'));
      this.tooltip.hidden = false;
      const left = Math.min(Math.max(x + 12, 0), L.W - 150);
      this.tooltip.style.left = `${x > L.W - 170 ? x - 150 : left}px`;
      this.tooltip.style.top = `${L.top + 6}px`;
    } else {
      this.tooltip.hidden = true;
    }
    this._X = X; this._L = L;
    svg.replaceChildren(...kids);
  }

  onPointer(e) {
    if (!this._X || this.samples.length < 2) return;
    const rect = this.svg.getBoundingClientRect();
    const px = ((e.clientX - rect.left) / rect.width) * this._L.W;
    let best = null, bd = Infinity;
    this.samples.forEach((d, i) => { const dd = Math.abs(this._X(d.t) - px); if (dd < bd) { bd = dd; best = i; } });
    if (best !== this.hover) { this.hover = best; this.drawChart(); }
  }
}

function trimZeros(str) {
  return str.replace(/(\.\d*?)0+(?=\D*$)/, '$1').replace(/\.(?=\D*$)/, '');
}

function lastLatency(samples) {
  for (let i = samples.length - 1; i >= 0; i--) if (Number.isFinite(samples[i].latency)) return samples[i].latency;
  return null;
}

function setVal(id, raw, text) {
  const el = document.getElementById(id);
  if (!el) return;
  const t = String(text);
  if (el.textContent !== t) el.textContent = t;
  el.dataset.value = raw ?? '';
}

/** 0 → max with 3–4 "nice" ticks (1/2/2.5/5 × 10^k). */
function niceScale(maxVal, isSeconds) {
  let max = maxVal > 0 ? maxVal : isSeconds ? 0.001 : 1;
  const raw = max / 3;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw) || 10 * mag;
  max = Math.ceil(maxVal / step) * step || step * 3;
  const ticks = [];
  for (let v = 0; v <= max + step / 2; v += step) ticks.push(Number(v.toPrecision(10)));
  return { max, ticks };
}

const STATUS_TEXT = {
  100: 'Continue', 101: 'Switching Protocols', 200: 'OK', 201: 'Created', 202: 'Accepted', 204: 'No Content', 206: 'Partial Content',
  301: 'Moved Permanently', 302: 'Found', 303: 'See Other', 304: 'Not Modified', 307: 'Temporary Redirect', 308: 'Permanent Redirect',
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 408: 'Request Timeout',
  413: 'Payload Too Large', 429: 'Too Many Requests', 499: 'Client Closed Request',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
function statusText(c) { return STATUS_TEXT[c] || ''; }
