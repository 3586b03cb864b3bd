// trafik dashboard: hash router, polling loop, connection state, header.
import { ProvidersView } from './providers.js';
import { HealthView } from './health.js';
import { AcmeView } from './acme.js';
import { fmtClock, refreshRelTimes } from './util.js';

const POLL_MS = 2000;
const TIMEOUT_MS = 5000;
const ROUTES = ['providers', 'health'];

// The dashboard lives at <prefix>/dashboard/; the API is at <prefix>/api/… and <prefix>/health.
// Resolved against origin + path, never against the page's own URL: opened as
// http://user:pass@host/dashboard/, that URL (and so any URL resolved against it) carries the
// credentials, and browsers refuse to fetch() such a URL. The browser sends the credentials
// it authenticated the page with on its own.
const url = (path) => new URL(`../${path}`, `${location.origin}${location.pathname}`).href;
const ENDPOINTS = {
  providers: url('api/providers'),
  state: url('api/state'),
  health: url('health'),
  version: url('api/version'),
};

const root = document.documentElement;
const providersView = new ProvidersView();
const healthView = new HealthView(POLL_MS);
const acmeView = new AcmeView();
let route = null;
let timer = null;
let inFlight = false;
let version = null;
let lastOk = null;
let lastTexts = { providers: null, state: null };

class HttpError extends Error {
  constructor(status, statusText) { super(`HTTP ${status}${statusText ? ` ${statusText}` : ''}`); this.status = status; }
}

async function getJSON(href) {
  const ctrl = new AbortController();
  const t = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(href, { signal: ctrl.signal, cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!res.ok) throw new HttpError(res.status, res.statusText);
    const text = await res.text();
    return { text, json: JSON.parse(text) };
  } catch (e) {
    if (e.name === 'AbortError') throw new Error(`timed out after ${TIMEOUT_MS / 1000}s`);
    throw e;
  } finally {
    clearTimeout(t);
  }
}

// ------------------------------------------------------------------ routing

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  const name = path.split('/')[0];
  return { name: ROUTES.includes(name) ? name : null, params: new URLSearchParams(query) };
}

function onRoute() {
  const { name, params } = parseHash();
  if (!name) { history.replaceState(null, '', '#/providers'); return onRoute(); }
  const changed = name !== route;
  route = name;
  root.dataset.route = name;
  for (const v of document.querySelectorAll('[data-view]')) v.hidden = v.dataset.view !== name;
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  document.title = `${name === 'health' ? 'Health' : 'Providers'} · trafik`;
  if (name === 'providers') { healthView.hide(); providersView.setParams(params); } else healthView.show();
  if (changed) window.scrollTo(0, 0);
}

providersView.onParamsChange = () => {
  const q = providersView.params().toString();
  const href = `#/providers${q ? `?${q}` : ''}`;
  history.replaceState(null, '', href);
  document.getElementById('nav-providers').setAttribute('href', href); // keep the filter when coming back
};

// ------------------------------------------------------------------ polling

async function poll() {
  if (inFlight) return;
  inFlight = true;
  clearTimeout(timer);
  try {
    const [prov, state, health] = await Promise.allSettled([
      getJSON(ENDPOINTS.providers), getJSON(ENDPOINTS.state), getJSON(ENDPOINTS.health),
    ]);
    const failure = [prov, health].find((r) => r.status === 'rejected');
    if (failure) {
      setConnection('error', failure.reason);
    } else {
      // /api/state is a trafik extension: absent (404) or broken ⇒ just don't show live state.
      const stateVal = state.status === 'fulfilled' ? state.value : { text: 'null', json: null };
      if (prov.value.text !== lastTexts.providers || stateVal.text !== lastTexts.state) {
        lastTexts = { providers: prov.value.text, state: stateVal.text };
        providersView.update(prov.value.json, stateVal.json);
        acmeView.update(stateVal.json);
      }
      healthView.ingest(health.value.json);
      lastOk = new Date();
      setConnection('ok');
      if (!version) loadVersion();
    }
  } finally {
    inFlight = false;
    schedule();
  }
}

function schedule() {
  clearTimeout(timer);
  if (document.hidden) { setConnectionPaused(); return; }
  timer = setTimeout(poll, POLL_MS);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) { clearTimeout(timer); setConnectionPaused(); } else poll();
});

async function loadVersion() {
  try {
    const { json } = await getJSON(ENDPOINTS.version);
    version = json || {};
    const el = document.getElementById('version');
    const v = version.Version ?? version.version;
    if (!v) return;
    el.textContent = /^v/i.test(v) ? v : `v${v}`;
    el.dataset.version = v;
    const parts = [`trafik ${v}`];
    if (version.Codename) parts.push(`“${version.Codename}”`);
    if (version.startDate) parts.push(`started ${new Date(version.startDate).toLocaleString()}`);
    el.title = parts.join(' · ');
    if (version.Codename) el.append(' ', Object.assign(document.createElement('span'), { className: 'codename', textContent: version.Codename }));
    el.hidden = false;
  } catch { version = null; }
}

// ------------------------------------------------------------------ connection state

function setConnection(state, err) {
  root.dataset.connection = state;
  const pill = document.getElementById('connection-status');
  const text = pill.querySelector('.conn-text');
  const banner = document.getElementById('connection-error');
  if (state === 'ok') {
    text.textContent = 'Live';
    pill.title = `Refreshing every ${POLL_MS / 1000} s`;
    banner.hidden = true;
    document.getElementById('last-updated').textContent = fmtClock(lastOk);
  } else if (state === 'error') {
    text.textContent = 'Offline';
    const reason = err instanceof HttpError ? `trafik answered ${err.message}.`
      : err instanceof TypeError ? `No response from ${location.host || 'the server'}.`
      : err instanceof SyntaxError ? 'trafik sent a response that is not valid JSON.'
      : `${err?.message || 'Network error'}.`;
    document.getElementById('connection-error-detail').textContent =
      `${reason} Retrying every ${POLL_MS / 1000} s${lastOk ? ` — showing data from ${fmtClock(lastOk)}` : ''}.`;
    pill.title = reason;
    banner.hidden = false;
    const loading = document.getElementById('providers-loading');
    if (loading) loading.textContent = 'No data yet: waiting for trafik to answer.';
  }
}

function setConnectionPaused() {
  if (root.dataset.connection === 'ok') {
    root.dataset.connection = 'paused';
    document.querySelector('#connection-status .conn-text').textContent = 'Paused';
  }
}

document.getElementById('retry-now').addEventListener('click', () => poll());

// ------------------------------------------------------------------ theme

const THEMES = ['auto', 'light', 'dark'];
function applyTheme(t) {
  if (t === 'auto') delete root.dataset.theme; else root.dataset.theme = t;
  const btn = document.getElementById('theme-toggle');
  btn.title = `Theme: ${t}`;
  btn.setAttribute('aria-label', `Theme: ${t} (click to change)`);
}
let theme = (() => { try { return localStorage.getItem('trafik-theme') || 'auto'; } catch { return 'auto'; } })();
const forced = new URLSearchParams(location.search).get('theme');
if (THEMES.includes(forced)) theme = forced;
applyTheme(THEMES.includes(theme) ? theme : 'auto');
document.getElementById('theme-toggle').addEventListener('click', () => {
  theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  applyTheme(theme);
  try { localStorage.setItem('trafik-theme', theme); } catch { /* private mode */ }
});

// ------------------------------------------------------------------ start

window.addEventListener('hashchange', onRoute);
document.addEventListener('keydown', (e) => {
  if (e.key === '/' && !e.target.closest('input, textarea') && route === 'providers') {
    e.preventDefault();
    document.getElementById('filter').focus();
  }
});
setInterval(() => { if (!document.hidden) refreshRelTimes(); }, 5000);
onRoute();
poll();
