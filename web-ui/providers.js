// Providers view: frontends and backends per provider, merged with live state from /api/state.
import { h, icon, isObj, entries, byName, ruleCode, parseTime, relTime } from './util.js';

const HIDDEN_PROVIDERS = new Set(['acme', 'ACME']);

const LB_METHODS = { wrr: 'Weighted round robin', drr: 'Dynamic round robin' };
const BREAKER = {
  standby: { label: 'Breaker standby', cls: 'ok', title: 'Circuit breaker is closed: traffic flows normally' },
  tripped: { label: 'Breaker tripped', cls: 'bad', title: 'Circuit breaker is open: requests get 503 until it recovers' },
  recovering: { label: 'Breaker recovering', cls: 'warn', title: 'Circuit breaker is ramping traffic back up' },
};

export class ProvidersView {
  constructor() {
    this.list = document.getElementById('providers-list');
    this.summary = document.getElementById('providers-summary');
    this.tabs = document.getElementById('provider-tabs');
    this.filterInput = document.getElementById('filter');
    this.providers = null; // last /api/providers payload
    this.state = null; // last /api/state payload (or null when unsupported)
    this.filter = '';
    this.selected = ''; // '' = all providers
    this.openDetails = new Set(); // ids of <details> the user opened
    this.onParamsChange = () => {};

    this.filterInput.addEventListener('input', () => {
      this.filter = this.filterInput.value;
      this.render();
      this.onParamsChange();
    });
    this.filterInput.addEventListener('keydown', (e) => {
      if (e.key === 'Escape' && this.filterInput.value) { this.filterInput.value = ''; this.filter = ''; this.render(); this.onParamsChange(); }
    });
    this.list.addEventListener('click', (e) => {
      const a = e.target.closest('a[data-backend-link]');
      if (!a) return;
      e.preventDefault();
      this.revealBackend(a.dataset.provider, a.dataset.backendLink);
    });
    this.list.addEventListener('toggle', (e) => {
      const d = e.target;
      if (!(d instanceof HTMLDetailsElement) || !d.id) return;
      if (d.open) this.openDetails.add(d.id); else this.openDetails.delete(d.id);
    }, true);
  }

  /** Route params from the hash: ?q=…&provider=… */
  setParams(params) {
    const q = params.get('q') ?? '';
    const p = params.get('provider') ?? '';
    let changed = false;
    if (q !== this.filter) { this.filter = q; this.filterInput.value = q; changed = true; }
    if (p !== this.selected) { this.selected = p; changed = true; }
    if (changed) this.render();
  }

  params() {
    const p = new URLSearchParams();
    if (this.selected) p.set('provider', this.selected);
    if (this.filter) p.set('q', this.filter);
    return p;
  }

  update(providers, state) {
    this.providers = isObj(providers) ? providers : {};
    this.state = isObj(state) ? state : null;
    this.render();
  }

  providerNames() {
    const names = new Set(Object.keys(this.providers || {}).filter((n) => isObj(this.providers[n])));
    for (const n of Object.keys(this.state?.providers || {})) names.add(n);
    return [...names].filter((n) => !HIDDEN_PROVIDERS.has(n)).sort((a, b) => byName([a], [b]));
  }

  render() {
    if (!this.providers) return;
    // Keep keyboard focus across re-renders when the focused element is re-created.
    const active = document.activeElement;
    const focusKey = this.list.contains(active) ? active?.dataset?.focusKey : null;

    const names = this.providerNames();
    if (this.selected && !names.includes(this.selected)) this.selected = '';
    const q = this.filter.trim().toLowerCase();
    const match = (name) => !q || name.toLowerCase().includes(q);

    this.renderTabs(names);
    this.renderSummary(names);

    const sections = [];
    for (const name of names) {
      if (this.selected && name !== this.selected) continue;
      sections.push(this.renderProvider(name, match, q));
    }
    if (!names.length) {
      sections.push(h('div', { class: 'empty', id: 'providers-empty' },
        icon('empty', 'empty-icon'),
        h('h2', null, 'No providers yet'),
        h('p', null, 'trafik has not loaded any configuration. Add ', h('code', null, '[file]'), ' (or another provider) to trafik.toml.')));
    }
    this.list.replaceChildren(...sections);

    if (focusKey) this.list.querySelector(`[data-focus-key="${CSS.escape(focusKey)}"]`)?.focus();
  }

  renderTabs(names) {
    if (names.length < 2) { this.tabs.replaceChildren(); this.tabs.hidden = true; return; }
    this.tabs.hidden = false;
    const errs = this.state?.providers || {};
    const tab = (value, label, hasErr) => h('button', {
      type: 'button', class: 'tab', 'aria-pressed': String(this.selected === value), dataset: { providerTab: value },
      onclick: () => { this.selected = value; this.render(); this.onParamsChange(); },
    }, label, hasErr ? h('span', { class: 'tab-err', title: 'Configuration error' }, icon('alert')) : null);
    this.tabs.replaceChildren(
      tab('', 'All providers', false),
      ...names.map((n) => tab(n, n, !!errs[n]?.lastError || errs[n]?.store?.up === false)));
  }

  renderSummary(names) {
    let fe = 0, be = 0, srv = 0, up = 0, known = 0, tripped = 0, errors = 0;
    for (const p of names) {
      const cfg = this.providers[p] || {};
      fe += entries(cfg.frontends).length;
      for (const [bname, b] of entries(cfg.backends)) {
        be++;
        const st = this.state?.backends?.[bname];
        if (st?.breaker === 'tripped') tripped++;
        for (const [, server] of entries(b?.servers)) {
          srv++;
          const u = serverUp(st, server?.url);
          if (u !== null) { known++; if (u) up++; }
        }
      }
      if (this.state?.providers?.[p]?.lastError) errors++;
    }
    const item = (id, value, label, cls = '', extra = {}) =>
      h('div', { class: ['stat', cls], id, ...extra }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
    const serversText = known ? `${up}/${srv}` : String(srv);
    this.summary.replaceChildren(...[
      item('summary-frontends', String(fe), fe === 1 ? 'frontend' : 'frontends'),
      item('summary-backends', String(be), be === 1 ? 'backend' : 'backends'),
      item('summary-servers', serversText, known ? 'servers up' : (srv === 1 ? 'server' : 'servers'),
        known && up < known ? 'warn' : '', { 'data-up': known ? up : null, 'data-total': srv }),
      this.state ? item('summary-breakers', String(tripped), 'breakers tripped', tripped ? 'bad' : '') : null,
      this.state ? item('summary-errors', String(errors), errors === 1 ? 'config error' : 'config errors', errors ? 'bad' : '') : null,
    ].filter(Boolean));
  }

  renderProvider(name, match, q) {
    const cfg = isObj(this.providers[name]) ? this.providers[name] : {};
    const pstate = this.state?.providers?.[name];
    const frontends = entries(cfg.frontends).sort(byName);
    const backends = entries(cfg.backends).sort(byName);
    const usedBy = new Map();
    for (const [fname, f] of frontends) {
      const b = f?.backend;
      if (typeof b === 'string') usedBy.set(b, [...(usedBy.get(b) || []), fname]);
    }
    const backendNames = new Set(backends.map(([n]) => n));

    const shownF = frontends.filter(([n]) => match(n));
    const shownB = backends.filter(([n]) => match(n));

    const reload = parseTime(pstate?.lastReload);
    const head = h('header', { class: 'provider-head' },
      h('h2', { class: 'provider-name' }, icon('providers'), name),
      h('span', { class: 'provider-meta' },
        `${frontends.length} ${frontends.length === 1 ? 'frontend' : 'frontends'} · ${backends.length} ${backends.length === 1 ? 'backend' : 'backends'}`),
      reload ? h('span', { class: 'provider-meta', 'data-last-reload': pstate.lastReload }, 'reloaded ', relTime(reload, pstate.lastReload)) : null,
    );

    const err = pstate?.lastError;
    const errBox = err ? h('div', { class: 'alert alert-error', role: 'alert', id: `provider-error-${name}`, 'data-provider-error': name },
      icon('alert', 'alert-icon'),
      h('div', { class: 'alert-body' },
        h('div', { class: 'alert-title' }, 'Configuration error'),
        h('pre', { class: 'alert-code' }, String(err)),
        h('div', { class: 'alert-hint' }, 'trafik keeps serving the last valid configuration until this is fixed.'))) : null;

    // Store-backed providers (etcd, Redis, …): whether trafik reaches the store. While it
    // does not, the last configuration keeps serving.
    const store = isObj(pstate?.store) ? pstate.store : null;
    const lastSuccess = parseTime(store?.lastSuccess);
    const storeBox = store && !store.up ? h('div', { class: 'alert alert-error', role: 'alert', id: `provider-store-${name}`, 'data-provider-store': name },
      icon('alert', 'alert-icon'),
      h('div', { class: 'alert-body' },
        h('div', { class: 'alert-title' }, 'Store unreachable'),
        store.error ? h('pre', { class: 'alert-code' }, String(store.error)) : null,
        h('div', { class: 'alert-hint' },
          lastSuccess ? ['Last read ', relTime(lastSuccess, store.lastSuccess), '. '] : 'Never read yet. ',
          'trafik keeps serving the last configuration and retries (at most every 30 s).'))) : null;

    const column = (kind, title, all, shown, renderItem) => h('div', { class: 'column', 'data-list': kind },
      h('h3', { class: 'column-head' }, icon(kind === 'frontends' ? 'frontend' : 'backend'), title,
        h('span', { class: 'count', 'data-count': shown.length }, q ? `${shown.length} of ${all.length}` : String(all.length))),
      shown.length ? shown.map(renderItem)
        : h('p', { class: 'empty-inline' }, all.length ? `No ${kind} match “${this.filter.trim()}”.` : `No ${kind}.`));

    return h('section', { class: 'provider', 'data-provider': name, id: `provider-${name}`, 'aria-label': `Provider ${name}` },
      head, storeBox, errBox,
      h('div', { class: 'columns' },
        column('frontends', 'Frontends', frontends, shownF, ([n, f]) => this.renderFrontend(name, n, f, backendNames)),
        column('backends', 'Backends', backends, shownB, ([n, b]) => this.renderBackend(name, n, b, usedBy.get(n) || []))));
  }

  renderFrontend(provider, name, f, backendNames) {
    f = isObj(f) ? f : {};
    const routes = entries(f.routes).sort(byName);
    const eps = Array.isArray(f.entryPoints) ? f.entryPoints : [];
    const backend = typeof f.backend === 'string' ? f.backend : '';
    const rows = [];
    rows.push(prop('Entry points', 'entryPoints', eps.length ? eps.map((e) => h('span', { class: 'chip' }, e)) : h('span', { class: 'muted' }, 'default')));
    rows.push(prop('Backend', 'backend', backend
      ? [h('a', { href: '#/providers', class: 'link', 'data-backend-link': backend, 'data-provider': provider, 'data-focus-key': `fe:${provider}:${name}:be` },
          backend, icon('arrow')),
        backendNames.has(backend) ? null : h('span', { class: 'badge bad', title: 'No backend with this name in this provider' }, 'missing')]
      : h('span', { class: 'badge bad' }, 'none')));
    rows.push(prop('Priority', 'priority', h('span', { 'data-value': f.priority ?? 0 }, String(f.priority ?? 0)),
      !f.priority ? h('span', { class: 'muted' }, ' (rule length)') : null));
    rows.push(prop('Pass Host header', 'passHostHeader', yesNo(f.passHostHeader)));
    rows.push(...frontendExtras(f));

    const id = `frontend-${provider}-${name}`;
    return h('article', { class: 'card frontend', id, 'data-frontend': name, 'data-provider': provider, 'data-backend-ref': backend || null },
      h('header', { class: 'card-head' },
        h('h4', { class: 'card-title' }, name)),
      h('ul', { class: 'rules', 'aria-label': 'Routing rules' },
        routes.length ? routes.map(([rn, r]) => h('li', { 'data-route': rn, title: `route ${rn}` }, ruleCode(r?.rule)))
          : h('li', { class: 'muted' }, 'No routes')),
      h('dl', { class: 'props' }, rows),
      rawDetails(`${id}-raw`, f, this.openDetails));
  }

  renderBackend(provider, name, b, usedBy) {
    b = isObj(b) ? b : {};
    const st = this.state?.backends?.[name];
    const servers = entries(b.servers).sort(byName);
    const totalWeight = servers.reduce((a, [, sv]) => a + Math.max(0, Number(sv?.weight) || 0), 0);
    let up = 0, known = 0;

    const rows = servers.map(([sname, sv]) => {
      sv = isObj(sv) ? sv : {};
      const u = serverUp(st, sv.url);
      if (u !== null) { known++; if (u) up++; }
      const w = Number(sv.weight);
      const share = totalWeight > 0 && Number.isFinite(w) ? Math.round((Math.max(0, w) / totalWeight) * 100) : null;
      const upAttr = u === null ? 'unknown' : String(u);
      return h('tr', { 'data-server': sname, 'data-server-url': sv.url ?? '', 'data-up': upAttr },
        this.state ? h('td', { class: 'status-cell' }, statusBadge(u)) : null,
        h('td', { class: 'url-cell' }, h('code', { class: 'url', title: `server ${sname}` }, sv.url ?? '—')),
        h('td', { class: 'num weight-cell', 'data-field': 'weight', 'data-value': sv.weight ?? '' },
          h('span', null, sv.weight ?? '—'),
          share !== null && servers.length > 1 ? h('span', { class: 'weight-bar', title: `${share}% of traffic`, 'aria-hidden': 'true' },
            h('span', { style: `width:${share}%` })) : null));
    });

    const lb = isObj(b.loadBalancer) ? b.loadBalancer : {};
    const method = String(lb.method || 'wrr').toLowerCase();
    const props = [];
    props.push(prop('Load balancer', 'method', h('span', { class: 'chip strong', 'data-value': method, title: LB_METHODS[method] || '' }, method.toUpperCase()),
      h('span', { class: 'muted' }, ` ${LB_METHODS[method] || ''}`)));
    props.push(prop('Stickiness', 'stickiness', stickiness(lb)));
    props.push(prop('Health check', 'healthCheck', healthCheck(b.healthCheck)));
    props.push(prop('Circuit breaker', 'circuitBreaker', b.circuitBreaker?.expression
      ? h('code', { class: 'expr' }, String(b.circuitBreaker.expression)) : h('span', { class: 'muted' }, 'None')));
    if (isObj(b.maxConn) && b.maxConn.amount) {
      props.push(prop('Max connections', 'maxConn', `${b.maxConn.amount}`, b.maxConn.extractorFunc ? h('span', { class: 'muted' }, ` per ${b.maxConn.extractorFunc}`) : null));
    }
    if (isObj(b.buffering)) props.push(prop('Buffering', 'buffering', kvList(b.buffering)));
    const flush = b.forwardingResponse?.flushInterval ?? b.responseForwarding?.flushInterval;
    if (flush) props.push(prop('Flush interval', 'flushInterval', String(flush)));
    if (usedBy.length) props.push(prop('Used by', 'usedBy', usedBy.map((f) => h('span', { class: 'chip' }, f))));

    const breakerState = !b.circuitBreaker?.expression ? 'none' : (st?.breaker || 'unknown');
    const br = BREAKER[breakerState];
    const id = `backend-${provider}-${name}`;
    return h('article', { class: ['card', 'backend', breakerState === 'tripped' ? 'is-tripped' : ''], id, tabindex: '-1',
      'data-backend': name, 'data-provider': provider, 'data-breaker': breakerState,
      'data-servers-up': known ? up : null, 'data-servers-total': servers.length },
      h('header', { class: 'card-head' },
        h('h4', { class: 'card-title' }, name),
        h('span', { class: 'card-badges' },
          br ? h('span', { class: ['badge', br.cls], title: br.title, 'data-field': 'breaker' }, icon('zap'), br.label) : null,
          servers.length && known ? h('span', { class: ['badge', up === known ? 'ok' : up === 0 ? 'bad' : 'warn'], 'data-field': 'serversUp' },
            `${up}/${servers.length} up`) : null)),
      servers.length
        ? h('table', { class: 'servers' },
            h('caption', { class: 'visually-hidden' }, `Servers of backend ${name}`),
            h('thead', null, h('tr', null, this.state ? h('th', { scope: 'col' }, 'Status') : null, h('th', { scope: 'col' }, 'Server URL'), h('th', { scope: 'col', class: 'num' }, 'Weight'))),
            h('tbody', null, rows))
        : h('p', { class: 'empty-inline warn' }, icon('alert'), 'No servers: requests get 503.'),
      h('dl', { class: 'props' }, props),
      rawDetails(`${id}-raw`, b, this.openDetails));
  }

  revealBackend(provider, name) {
    const sel = `[data-provider="${CSS.escape(provider)}"][data-backend="${CSS.escape(name)}"]`;
    let el = this.list.querySelector(sel);
    if (!el && (this.filter || (this.selected && this.selected !== provider))) {
      // Hidden by the filter: clear it so the backend can be shown.
      this.filter = ''; this.filterInput.value = ''; this.selected = this.selected ? provider : '';
      this.render(); this.onParamsChange();
      el = this.list.querySelector(sel);
    }
    if (!el) return;
    el.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth', block: 'center' });
    el.focus({ preventScroll: true });
    el.classList.remove('flash');
    void el.offsetWidth;
    el.classList.add('flash');
  }
}

function serverUp(st, url) {
  const servers = st?.servers;
  if (!isObj(servers) || typeof url !== 'string') return null;
  let s = servers[url];
  if (!s) {
    const norm = (u) => u.replace(/\/+$/, '');
    const k = Object.keys(servers).find((k) => norm(k) === norm(url));
    s = k ? servers[k] : null;
  }
  return typeof s?.up === 'boolean' ? s.up : null;
}

function statusBadge(up) {
  if (up === null) return h('span', { class: 'status unknown', title: 'No health information' }, h('span', { class: 'dot' }), 'Unknown');
  return up ? h('span', { class: 'status up' }, h('span', { class: 'dot' }), 'Up')
    : h('span', { class: 'status down' }, h('span', { class: 'dot' }), 'Down');
}

function prop(label, field, ...value) {
  return h('div', { class: 'prop' }, h('dt', null, label), h('dd', { 'data-field': field }, value));
}

function yesNo(v) {
  return v ? h('span', { 'data-value': 'true' }, 'Yes') : h('span', { class: 'muted', 'data-value': 'false' }, 'No');
}

function stickiness(lb) {
  const st = lb.stickiness;
  if (!isObj(st) && !lb.sticky) return h('span', { class: 'muted' }, 'Off');
  const parts = [];
  const cookie = isObj(st) && st.cookieName ? st.cookieName : (isObj(st) ? 'generated' : '_TRAEFIK_BACKEND');
  parts.push('cookie ', h('code', null, cookie));
  if (isObj(st)) {
    const flags = [];
    if (st.secure) flags.push('Secure');
    if (st.httpOnly) flags.push('HttpOnly');
    if (st.sameSite) flags.push(`SameSite=${st.sameSite}`);
    if (flags.length) parts.push(h('span', { class: 'muted' }, ` · ${flags.join(' · ')}`));
  }
  return parts;
}

function healthCheck(hc) {
  if (!isObj(hc) || !hc.path) return h('span', { class: 'muted' }, 'None');
  const parts = [h('code', null, `GET ${hc.path}`)];
  if (hc.interval) parts.push(` every ${hc.interval}`);
  const extra = [];
  if (hc.scheme) extra.push(`scheme ${hc.scheme}`);
  if (hc.port) extra.push(`port ${hc.port}`);
  if (hc.hostname) extra.push(`Host ${hc.hostname}`);
  if (isObj(hc.headers) && Object.keys(hc.headers).length) extra.push(`${Object.keys(hc.headers).length} header(s)`);
  if (extra.length) parts.push(h('span', { class: 'muted' }, ` · ${extra.join(' · ')}`));
  return parts;
}

function kvList(o) {
  const items = entries(o).filter(([, v]) => v !== '' && v !== 0 && v !== false && v !== null);
  if (!items.length) return h('span', { class: 'muted' }, 'Default');
  return items.map(([k, v]) => h('span', { class: 'chip' }, `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`));
}

const SECURITY_FLAGS = [
  ['sslRedirect', 'SSL redirect'], ['SSLRedirect', 'SSL redirect'], ['sslTemporaryRedirect', 'SSL temp redirect'],
  ['SSLTemporaryRedirect', 'SSL temp redirect'], ['frameDeny', 'Frame deny'], ['contentTypeNosniff', 'nosniff'],
  ['browserXssFilter', 'XSS filter'], ['browserXSSFilter', 'XSS filter'], ['isDevelopment', 'development'],
];

function frontendExtras(f) {
  const out = [];
  const r = f.redirect;
  if (isObj(r) && (r.entryPoint || r.regex)) {
    out.push(prop('Redirect', 'redirect', r.entryPoint ? ['to entry point ', h('span', { class: 'chip' }, r.entryPoint)]
      : [h('code', null, r.regex), ' → ', h('code', null, r.replacement ?? '')], r.permanent ? h('span', { class: 'muted' }, ' (permanent)') : null));
  }
  const a = f.auth;
  const basic = Array.isArray(f.basicAuth) ? f.basicAuth : [];
  if (isObj(a) || basic.length) {
    const kinds = [];
    if (isObj(a?.basic) || basic.length) kinds.push(`basic (${(a?.basic?.users?.length || 0) + basic.length || 'file'} users)`);
    if (isObj(a?.digest)) kinds.push('digest');
    if (isObj(a?.forward)) kinds.push(`forward → ${a.forward.address || '?'}`);
    if (kinds.length) out.push(prop('Auth', 'auth', kinds.join(', ')));
  }
  const wl = f.whiteList?.sourceRange ?? f.whitelistSourceRange;
  if (Array.isArray(wl) && wl.length) out.push(prop('Whitelist', 'whiteList', wl.map((c) => h('span', { class: 'chip mono' }, c))));
  const hd = f.headers;
  if (isObj(hd)) {
    const bits = [];
    const req = entries(hd.customRequestHeaders), res = entries(hd.customResponseHeaders);
    if (req.length) bits.push(`${req.length} request`);
    if (res.length) bits.push(`${res.length} response`);
    const sec = [...new Set(SECURITY_FLAGS.filter(([k]) => hd[k]).map(([, l]) => l))];
    if (hd.stsSeconds || hd.STSSeconds) sec.push(`HSTS ${hd.stsSeconds || hd.STSSeconds}s`);
    if (hd.contentSecurityPolicy) sec.push('CSP');
    if (bits.length || sec.length) {
      out.push(prop('Headers', 'headers', bits.length ? `custom: ${bits.join(', ')}` : null,
        sec.length ? h('span', { class: 'chips' }, sec.map((x) => h('span', { class: 'chip' }, x))) : null));
    }
  }
  const errs = entries(f.errors);
  if (errs.length) {
    out.push(prop('Error pages', 'errors', errs.map(([n, e]) => h('div', { class: 'sub' },
      h('span', { class: 'chip' }, Array.isArray(e?.status) ? e.status.join(', ') : n), ' → ', e?.backend ?? '?', e?.query ? h('code', null, ` ${e.query}`) : null))));
  }
  const rl = f.ratelimit ?? f.rateLimit;
  if (isObj(rl)) {
    const sets = entries(rl.rateset ?? rl.rateSet).map(([n, s]) => `${s?.average ?? '?'}/${s?.period ?? '?'} (burst ${s?.burst ?? '?'})`);
    out.push(prop('Rate limit', 'ratelimit', sets.join(', ') || 'configured', rl.extractorFunc || rl.extractorfunc ? h('span', { class: 'muted' }, ` per ${rl.extractorFunc || rl.extractorfunc}`) : null));
  }
  if (f.passTLSCert || isObj(f.passTLSClientCert)) out.push(prop('Client cert', 'passTLSClientCert', 'forwarded'));
  return out;
}

function rawDetails(id, obj, openSet) {
  const d = h('details', { class: 'raw', id },
    h('summary', null, 'Raw JSON'),
    h('pre', null, JSON.stringify(obj, null, 2)));
  if (openSet.has(id)) d.open = true;
  return d;
}
