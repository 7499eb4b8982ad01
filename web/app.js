// quire's web page: upload PDFs, follow their jobs, read the Markdown beside the PDF, download the
// results. Talks only to this service's v1 API (docs/api.md). No framework; markdown-it renders.
//
// The API key lives in sessionStorage (this tab only, gone when it closes) and is sent as
// X-API-Key; never in localStorage or a cookie. Markdown comes from untrusted PDFs: markdown-it runs
// with html:false (raw HTML is shown as text) and the page's Content-Security-Policy allows no
// inline or foreign script.
'use strict';

(() => {
  const KEY_STORE = 'quire.apiKey';
  const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'expired']);
  const POLL_MS = 1000;

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) if (c != null) e.append(c);
    return e;
  };

  const state = {
    key: sessionStorage.getItem(KEY_STORE) || '',
    info: null,          // /v1/info, once the lane answers
    authRequired: false,
    jobs: new Map(),     // job_id -> job record (or a pending upload: {local, status: 'uploading'})
    sources: new Map(),  // job_id -> blob: URL of the PDF uploaded from this tab
    selected: null,      // job_id in the viewer
    shown: null,         // job_id whose result is rendered
    view: 'rendered',
  };

  // ---- markdown-it: no raw HTML; extracted images (assets/NAME) are fetched with the key --------
  const md = window.markdownit({ html: false, linkify: true, typographer: false });
  const renderImage = md.renderer.rules.image;
  md.renderer.rules.image = (tokens, idx, options, env, self) => {
    const t = tokens[idx];
    const m = /^assets\/([^/?#]+)$/.exec(t.attrGet('src') || '');
    if (m) {
      t.attrSet('data-asset', m[1]);
      t.attrSet('src', '');
    }
    return renderImage(tokens, idx, options, env, self);
  };
  const renderLinkOpen = md.renderer.rules.link_open || ((tokens, idx, options, env, self) => self.renderToken(tokens, idx, options));
  md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
    const href = tokens[idx].attrGet('href') || '';
    if (!href.startsWith('#')) {
      tokens[idx].attrSet('target', '_blank');
      tokens[idx].attrSet('rel', 'noopener noreferrer');
    }
    return renderLinkOpen(tokens, idx, options, env, self);
  };

  // ---- the API --------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, error) {
      super(error ? `${error.code}: ${error.message}` : `HTTP ${status}`);
      this.status = status;
      this.code = error ? error.code : `http_${status}`;
    }
  }

  async function api(path, opts = {}) {
    const headers = new Headers(opts.headers || {});
    if (state.key) headers.set('X-API-Key', state.key);
    let res;
    try {
      res = await fetch(path, { ...opts, headers, cache: 'no-store', credentials: 'omit' });
    } catch (e) {
      throw new ApiError(0, { code: 'network_error', message: `the service did not answer (${e.message})` });
    }
    if (!res.ok) {
      let error = null;
      try { error = (await res.json()).error; } catch (_) { /* not the envelope */ }
      const err = new ApiError(res.status, error);
      if (res.status === 401) keyRefused(err);
      throw err;
    }
    return res;
  }

  // ---- messages -------------------------------------------------------------------------------
  function showBanner(text, kind = 'error') {
    $('banner-text').textContent = text;
    $('banner').className = `banner ${kind}`;
    $('banner').hidden = false;
  }
  function hideBanner() { $('banner').hidden = true; }
  $('banner-close').addEventListener('click', hideBanner);

  // ---- the lane: readiness (always open) and /v1/info (once ready) -----------------------------
  async function loadLane() {
    let ready = null;
    try {
      const r = await fetch('/readyz', { cache: 'no-store' });
      ready = await r.json();
    } catch (_) {
      $('lane').textContent = 'the service does not answer';
      $('lane').className = 'lane bad';
      setTimeout(loadLane, 5000);
      return;
    }
    if (ready.status !== 'ready') {
      const reasons = (ready.reasons || []).map((x) => x.code).join(', ');
      $('lane').textContent = `not ready: ${reasons}`;
      $('lane').title = (ready.reasons || []).map((x) => `${x.code}: ${x.message}`).join('\n');
      $('lane').className = 'lane bad';
    }
    try {
      state.info = await (await api('/v1/info')).json();
    } catch (e) {
      setTimeout(loadLane, 5000);
      return;
    }
    showInfo(state.info, ready.status === 'ready');
    if (ready.status !== 'ready') setTimeout(loadLane, 5000);
  }

  function showInfo(info, ready) {
    const caps = info.capabilities || {};
    if (ready) {
      $('lane').textContent = `${info.profile} lane · ready`;
      $('lane').title = `instance ${info.instance || ''}`;
      $('lane').className = 'lane ok';
    }
    $('revision').textContent = `quire ${info.revision || ''}`;
    state.authRequired = caps.auth === 'api_key';
    $('auth').hidden = !state.authRequired;
    if (state.authRequired && !state.key) $('api-key').focus();
    if (caps.max_upload_bytes) {
      const pages = caps.max_pages ? `, up to ${caps.max_pages} pages` : '';
      $('limits').textContent = `PDF files up to ${formatBytes(caps.max_upload_bytes)}${pages}.`;
    }
    const langs = Array.isArray(info.ocr_languages) ? info.ocr_languages : [];
    $('opt-langs-box').hidden = langs.length === 0;
    const box = $('opt-langs');
    box.replaceChildren();
    for (const lang of langs) {
      const cb = el('input', { type: 'checkbox', value: lang });
      cb.checked = lang === 'eng';
      box.append(el('label', { class: 'lang' }, cb, ` ${lang}`));
    }
    // The AGPL source offer (/v1/info `license`): this instance's source archive, else another place.
    const lic = info.license;
    if (lic && typeof lic === 'object') {
      const src = lic.source || {};
      const url = [src.url, src.elsewhere].find((u) => typeof u === 'string' && (/^\/[^/]/.test(u) || /^https?:\/\//.test(u)));
      if (url) {
        $('source-offer').href = url;
        $('source-offer').hidden = false;
      }
      if (typeof lic.notice === 'string') $('source-text').textContent = lic.spdx ? `${lic.spdx}: ${lic.notice}` : lic.notice;
    }
    if (!state.authRequired || state.key) loadJobs(false);
  }

  // ---- the API key ----------------------------------------------------------------------------
  function keyRefused(err) {
    // A refused key is forgotten at once: nothing wrong is kept even for this tab.
    state.key = '';
    sessionStorage.removeItem(KEY_STORE);
    $('auth').hidden = false;
    $('key-state').textContent = 'The API key was refused.';
    $('key-state').className = 'hint bad';
    showBanner(`The service refused the request: ${err.message}. Enter a valid API key.`);
  }

  $('key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const k = $('api-key').value.trim();
    if (!k) return;
    state.key = k;
    sessionStorage.setItem(KEY_STORE, k);
    $('api-key').value = '';
    hideBanner();
    try {
      await api('/v1/convert/jobs?limit=1');
      $('key-state').textContent = 'Key accepted (kept in this tab only).';
      $('key-state').className = 'hint ok';
      loadJobs(false);
    } catch (e) {
      if (e.status !== 401) showBanner(`Checking the key failed: ${e.message}`);
    }
  });
  $('key-forget').addEventListener('click', () => {
    state.key = '';
    sessionStorage.removeItem(KEY_STORE);
    $('key-state').textContent = 'Key forgotten.';
    $('key-state').className = 'hint';
  });

  // ---- uploads --------------------------------------------------------------------------------
  function jobSpec() {
    const conversion = {};
    const ocr = $('opt-ocr').value;
    if (ocr !== 'auto') conversion.ocr = ocr;
    const langs = [...$('opt-langs').querySelectorAll('input:checked')].map((x) => x.value);
    if (!$('opt-langs-box').hidden && langs.length > 0 && langs.join('+') !== 'eng') conversion.ocr_languages = langs.join('+');
    const first = parseInt($('opt-first').value, 10);
    const last = parseInt($('opt-last').value, 10);
    if (first > 1) conversion.first_page = first;
    if (last > 0) conversion.last_page = last;
    if ($('opt-images').checked) conversion.extract_images = true;
    return Object.keys(conversion).length ? { conversion } : null;
  }

  let localSeq = 0;
  async function upload(file) {
    const caps = (state.info && state.info.capabilities) || {};
    if (state.authRequired && !state.key) {
      showBanner('This lane needs an API key: enter it above, then drop the PDF again.');
      $('auth').hidden = false;
      $('api-key').focus();
      return;
    }
    const isPdf = file.type === 'application/pdf' || /\.pdf$/i.test(file.name);
    if (!isPdf) {
      showBanner(`${file.name} is not a PDF.`);
      return;
    }
    if (caps.max_upload_bytes && file.size > caps.max_upload_bytes) {
      showBanner(`${file.name} is ${formatBytes(file.size)}: over this lane's limit of ${formatBytes(caps.max_upload_bytes)}.`);
      return;
    }
    const local = `local-${++localSeq}`;
    state.jobs.set(local, { local, status: 'uploading', source_filename: file.name, created_at: new Date().toISOString() });
    renderJobs();
    const form = new FormData();
    form.append('file', file, file.name);
    const spec = jobSpec();
    if (spec) form.append('job_spec', JSON.stringify(spec));
    try {
      const body = await (await api('/v1/convert/jobs', { method: 'POST', body: form })).json();
      const job = body.job;
      state.jobs.delete(local);
      state.jobs.set(job.job_id, job);
      state.sources.set(job.job_id, URL.createObjectURL(file));
      if (!state.selected || !state.jobs.has(state.selected) || TERMINAL.has(state.jobs.get(state.selected).status)) select(job.job_id);
      schedulePoll();
    } catch (e) {
      state.jobs.set(local, { ...state.jobs.get(local), status: 'rejected', error: { code: e.code, message: e.message } });
      if (e.status !== 401) showBanner(`Upload of ${file.name} failed: ${e.message}`);
    }
    renderJobs();
  }

  function uploadAll(files) {
    hideBanner();
    for (const f of files) upload(f);
  }

  const drop = $('drop');
  drop.addEventListener('dragover', (ev) => { ev.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    uploadAll([...ev.dataTransfer.files]);
  });
  drop.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') $('file-input').click(); });
  $('file-input').addEventListener('change', (ev) => {
    uploadAll([...ev.target.files]);
    ev.target.value = '';
  });

  // ---- jobs: list, live progress --------------------------------------------------------------
  async function loadJobs(announce) {
    try {
      const body = await (await api('/v1/convert/jobs?limit=50')).json();
      for (const job of body.jobs) if (!state.jobs.has(job.job_id)) state.jobs.set(job.job_id, job);
      renderJobs();
      schedulePoll();
      if (announce && body.jobs.length === 0) showBanner('This key has no jobs yet.', 'info');
    } catch (e) {
      if (announce && e.status !== 401) showBanner(`Listing jobs failed: ${e.message}`);
    }
  }
  $('jobs-refresh').addEventListener('click', () => loadJobs(true));

  let pollTimer = null;
  function schedulePoll() {
    if (pollTimer === null) pollTimer = setTimeout(poll, POLL_MS);
  }
  async function poll() {
    pollTimer = null;
    const active = [...state.jobs.values()].filter((j) => j.job_id && !TERMINAL.has(j.status));
    for (const j of active) {
      try {
        const { job } = await (await api(`/v1/convert/jobs/${j.job_id}`)).json();
        state.jobs.set(job.job_id, job);
        if (job.job_id === state.selected) showSelected();
      } catch (e) {
        if (e.status === 401) return;  // stop until a key is entered
        if (e.status === 404 || e.status === 410) state.jobs.set(j.job_id, { ...j, status: e.status === 410 ? 'expired' : 'failed', error: { code: e.code, message: e.message } });
      }
    }
    renderJobs();
    if ([...state.jobs.values()].some((j) => j.job_id && !TERMINAL.has(j.status))) schedulePoll();
  }

  async function cancel(id) {
    try {
      const { job } = await (await api(`/v1/convert/jobs/${id}/cancel`, { method: 'POST' })).json();
      state.jobs.set(id, job);
      renderJobs();
      if (id === state.selected) showSelected();
    } catch (e) {
      showBanner(`Cancel failed: ${e.message}`);
    }
  }

  function progressOf(job) {
    const p = job.progress || {};
    const total = p.pages_total || 0;
    const done = p.pages_done || 0;
    if (job.status === 'uploading') return el('span', { class: 'hint', text: 'uploading…' });
    if (!total) return el('span', { class: 'hint', text: { queued: 'waiting for a converter', running: 'starting…' }[job.status] || '' });
    const bar = el('progress', { max: String(total), value: String(done) });
    return el('span', { class: 'progress' }, bar, ` ${done}/${total} pages`);
  }

  function renderJobs() {
    const rows = $('job-rows');
    const jobs = [...state.jobs.values()].sort((a, b) => (b.created_at || '').localeCompare(a.created_at || ''));
    $('job-table').hidden = jobs.length === 0;
    $('jobs-empty').hidden = jobs.length !== 0;
    rows.replaceChildren();
    for (const job of jobs) {
      const id = job.job_id;
      const name = job.source_filename || id;
      const status = el('span', { class: `status ${job.status}`, text: job.status });
      const statusCell = el('td', {}, status);
      if (job.error && job.status !== 'succeeded') statusCell.append(el('div', { class: 'error-text', text: job.error.message || job.error.code }));
      const actions = el('td', { class: 'actions' });
      if (id && job.status === 'succeeded') actions.append(el('button', { type: 'button', text: 'view', onclick: () => select(id) }));
      if (id && (job.status === 'queued' || job.status === 'running'))
        actions.append(el('button', { type: 'button', class: 'link', text: 'cancel', onclick: () => cancel(id) }));
      const nameCell = el('td', { class: 'file' });
      if (id) nameCell.append(el('a', { href: `#${id}`, text: name, title: id, onclick: (ev) => { ev.preventDefault(); select(id); } }));
      else nameCell.append(name);
      const tr = el('tr', { 'data-job': id || job.local }, nameCell, statusCell, el('td', {}, progressOf(job)),
        el('td', { class: 'when', text: formatTime(job.created_at) }), actions);
      if (id && id === state.selected) tr.classList.add('selected');
      rows.append(tr);
    }
  }

  // ---- the viewer: source beside the rendered result ------------------------------------------
  function select(id) {
    state.selected = id;
    state.shown = null;
    $('viewer').hidden = false;
    const src = state.sources.get(id);
    const frame = $('pdf-frame');
    if (src) {
      // The browser's own PDF viewer (a fragment such as #view=FitH left Chromium's blank).
      if (frame.getAttribute('src') !== src) frame.src = src;
      frame.hidden = false;
      $('no-source').hidden = true;
    } else {
      frame.hidden = true;
      frame.removeAttribute('src');
      $('no-source').hidden = false;
    }
    renderJobs();
    showSelected();
  }

  async function showSelected() {
    const id = state.selected;
    const job = state.jobs.get(id);
    if (!job) return;
    $('viewer-title').textContent = job.source_filename || id;
    if (job.status !== 'succeeded') {
      $('downloads').replaceChildren();
      $('result-meta').textContent = '';
      const msg = job.status === 'failed' || job.status === 'canceled'
        ? `${job.status}${job.error ? `: ${job.error.message || job.error.code}` : ''}`
        : `${job.status}… the result appears here when the job has finished.`;
      $('rendered').replaceChildren(el('p', { class: 'hint', text: msg }));
      $('markdown-text').textContent = '';
      return;
    }
    if (state.shown === id) return;
    state.shown = id;
    try {
      const { result } = await (await api(`/v1/convert/jobs/${id}/result?inline=true`)).json();
      if (state.selected !== id) return;
      showResult(id, job, result);
    } catch (e) {
      state.shown = null;
      $('rendered').replaceChildren(el('p', { class: 'error-text', text: `The result could not be read: ${e.message}` }));
    }
  }

  function showResult(id, job, result) {
    const text = result.markdown_content || '';
    $('rendered').innerHTML = md.render(text);  // html:false: no raw HTML from the document
    $('markdown-text').textContent = text;
    for (const img of $('rendered').querySelectorAll('img[data-asset]')) loadAsset(id, img);
    const meta = [`${result.page_count} page${result.page_count === 1 ? '' : 's'}`, formatBytes(result.size_bytes)];
    if (result.acceleration_used) meta.push(`analyzed on ${result.acceleration_used}`);
    if (Array.isArray(result.warnings) && result.warnings.length) meta.push(`warnings: ${result.warnings.join('; ')}`);
    $('result-meta').textContent = meta.join(' · ');
    const base = (job.source_filename || id).replace(/\.pdf$/i, '') || id;
    const dl = $('downloads');
    dl.replaceChildren(
      el('span', { class: 'hint', text: 'Download' }),
      el('button', { type: 'button', text: '.md', 'data-format': 'markdown', title: 'the Markdown file',
        onclick: () => download(`/v1/convert/jobs/${id}/result/markdown`, `${base}.md`) }),
      el('button', { type: 'button', text: '.json', 'data-format': 'json', title: 'the result as JSON (metadata and Markdown)',
        onclick: () => saveBlob(new Blob([JSON.stringify(result, null, 2)], { type: 'application/json' }), `${base}.json`) }));
    // The other formats the job asked for, and the bundle, appear as job links: offer each one,
    // named as the CLI names its files (an unknown name, from a newer service, as it is).
    const known = new Set(['self', 'cancel', 'result', 'markdown']);
    const files = {
      json: ['document.json', '.document.json', 'the document model (blocks, pages, boxes)'],
      chunks: ['chunks.json', '.chunks.json', 'heading-aware chunks for retrieval'],
      text: ['.txt', '.txt', 'the plain text'],
      bundle: ['.zip', '.zip', 'everything in one zip, images included'],
    };
    for (const [name, href] of Object.entries(job.links || {})) {
      if (known.has(name) || typeof href !== 'string' || !href.startsWith('/v1/')) continue;
      const [label, ext, title] = files[name] || [name, `.${name}`, name];
      dl.append(el('button', { type: 'button', text: label, 'data-link': name, title,
        onclick: () => download(href, `${base}${ext}`) }));
    }
  }

  async function loadAsset(id, img) {
    try {
      const blob = await (await api(`/v1/convert/jobs/${id}/artifacts/${encodeURIComponent(img.dataset.asset)}`)).blob();
      img.src = URL.createObjectURL(blob);
    } catch (e) {
      img.alt = `${img.alt} (image unavailable: ${e.message})`;
    }
  }

  async function download(path, fallbackName) {
    try {
      const res = await api(path);
      const cd = res.headers.get('Content-Disposition') || '';
      const m = /filename="([^"]+)"/.exec(cd);
      saveBlob(await res.blob(), m ? m[1] : fallbackName);
    } catch (e) {
      showBanner(`Download failed: ${e.message}`);
    }
  }

  function saveBlob(blob, name) {
    const a = el('a', { href: URL.createObjectURL(blob), download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  function setView(view) {
    state.view = view;
    $('rendered').hidden = view !== 'rendered';
    $('markdown-text').hidden = view !== 'markdown';
    $('tab-rendered').setAttribute('aria-selected', String(view === 'rendered'));
    $('tab-markdown').setAttribute('aria-selected', String(view === 'markdown'));
  }
  $('tab-rendered').addEventListener('click', () => setView('rendered'));
  $('tab-markdown').addEventListener('click', () => setView('markdown'));

  // ---- formatting -----------------------------------------------------------------------------
  function formatBytes(n) {
    if (!(n >= 0)) return '';
    if (n < 1024) return `${n} B`;
    if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
    return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  }
  function formatTime(iso) {
    if (!iso) return '';
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
  }

  loadLane();
})();
