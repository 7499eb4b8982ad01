// The web page in a real browser: Debian's chromium, driven by playwright-core, against a real
// `quire serve` (an eval lane with an API key) on the test PostgreSQL.
//
//   QUIRE_BIN=build/app/quire QUIRE_TEST_DATABASE_URL=postgresql://… node --test tests/browser/
//
// scripts/test --only browser sets both, installs chromium and playwright-core, and keeps the
// screenshots under QUIRE_BROWSER_ARTIFACTS (default: a fresh /tmp/quire-browser-*).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.QUIRE_BIN || path.join(root, 'build/app/quire');
const adminUrl = process.env.QUIRE_TEST_DATABASE_URL;
const chromiumPath = process.env.QUIRE_CHROMIUM || '/usr/bin/chromium';
const samplePdf = path.join(root, 'docker/sample/sample.pdf');
const apiKey = 'browser-test-key-1';
const sourceUrl = 'https://example.org/quire.git';
const artifacts = process.env.QUIRE_BROWSER_ARTIFACTS || fs.mkdtempSync(path.join(os.tmpdir(), 'quire-browser-'));
fs.mkdirSync(artifacts, { recursive: true });

let service;
let baseUrl;
let browser;
let dataRoot;
const logPath = path.join(artifacts, 'serve.log');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitReady(url, ms) {
  const until = Date.now() + ms;
  let last = '';
  while (Date.now() < until) {
    try {
      const r = await fetch(`${url}/readyz`);
      last = await r.text();
      if (r.status === 200) return;
    } catch (e) {
      last = e.message;
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`quire serve did not become ready: ${last} (log: ${logPath})`);
}

// Fails the test on anything the page's Content-Security-Policy blocked or a script error.
function watchConsole(page, problems) {
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
}

async function shot(page, name) {
  const file = path.join(artifacts, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

before(async () => {
  assert.ok(adminUrl, 'QUIRE_TEST_DATABASE_URL must name the test PostgreSQL (scripts/test sets it)');
  assert.ok(fs.existsSync(bin), `no quire binary at ${bin} (QUIRE_BIN)`);
  assert.ok(fs.existsSync(chromiumPath), `no chromium at ${chromiumPath} (apt-get install chromium)`);
  const db = `quire_browser_${process.pid}_${Date.now() % 100000}`;
  execFileSync('psql', ['-q', '-v', 'ON_ERROR_STOP=1', adminUrl, '-c', `CREATE DATABASE ${db}`]);
  const dbUrl = adminUrl.slice(0, adminUrl.lastIndexOf('/') + 1) + db;
  execFileSync(bin, ['migrate', '--database-url', dbUrl, '--profile', 'eval'], { stdio: 'pipe' });
  dataRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-browser-root-'));
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('QUIRE_')));
  Object.assign(env, {
    QUIRE_PROFILE: 'eval',
    QUIRE_DATA_ROOT: dataRoot,
    QUIRE_DATABASE_URL: dbUrl,
    QUIRE_LISTEN: `127.0.0.1:${port}`,
    QUIRE_API_KEYS: apiKey,
    QUIRE_CPU_CONVERTERS: '1',
    QUIRE_READINESS_INTERVAL_SECONDS: '1',
    QUIRE_POLL_INTERVAL_SECONDS: '1',
    QUIRE_SOURCE_URL: sourceUrl,  // no archive outside the image: the offer names this instead
  });
  const log = fs.openSync(logPath, 'a');
  service = spawn(bin, ['serve'], { env, stdio: ['ignore', log, log] });
  await waitReady(baseUrl, 60000);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    // Playwright gives every launch a fresh temporary profile (--user-data-dir).
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  console.log(`# browser artifacts (screenshots, serve.log): ${artifacts}`);
});

after(async () => {
  if (browser) await browser.close();
  if (service && service.exitCode === null) {
    const exited = new Promise((res) => service.once('exit', res));
    service.kill('SIGTERM');
    await Promise.race([exited, new Promise((res) => setTimeout(res, 20000))]);
    if (service.exitCode === null) service.kill('SIGKILL');
  }
  if (dataRoot) fs.rmSync(dataRoot, { recursive: true, force: true });
});

test('upload a PDF, follow the job, read the rendered Markdown beside the PDF, download it', { timeout: 180000 }, async () => {
  // What the engine makes of the sample, to compare the page's rendering and download against.
  const expected = execFileSync(bin, ['convert', samplePdf]).toString('utf8');
  const headings = [...expected.matchAll(/^#{1,6} +(.+?) *$/gm)].map((m) => m[1]);
  assert.ok(headings.length > 0, `the sample converts without a heading:\n${expected}`);

  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  watchConsole(page, problems);
  await page.goto(`${baseUrl}/`);
  // The lane has keys: the page asks for one.
  await page.locator('#auth').waitFor({ state: 'visible' });
  await page.locator('#lane.ok').waitFor();
  // The AGPL source offer from /v1/info's license.
  assert.equal(await page.locator('#source-offer').getAttribute('href'), sourceUrl);
  assert.match(await page.locator('footer').innerText(), /AGPL-3\.0-or-later/);
  // The OCR languages the lane has (/v1/info ocr_languages) are offered; eng is the default.
  await page.click('#options summary');
  assert.ok(await page.locator('#opt-langs input[value=eng]').isChecked());
  await shot(page, '01-start');
  await page.fill('#api-key', apiKey);
  await page.click('#key-form button[type=submit]');
  await page.locator('#key-state.ok').waitFor();
  // The key stays in this tab (sessionStorage), never in localStorage or a cookie.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('quire.apiKey')), apiKey);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.deepEqual(await context.cookies(), []);

  await page.setInputFiles('#file-input', samplePdf);
  const row = page.locator('#job-rows tr').first();
  await row.locator('.status').waitFor();
  await shot(page, '02-submitted');
  await row.locator('.status.succeeded').waitFor({ timeout: 120000 });
  const jobText = await row.innerText();
  assert.match(jobText, /sample\.pdf/);
  assert.match(jobText, /1\/1 pages/);

  // The result is rendered (headings as headings, no Markdown syntax left) beside the PDF.
  const rendered = page.locator('#rendered');
  await rendered.locator('h1, h2, h3').first().waitFor();
  const shownHeadings = await rendered.locator('h1, h2, h3, h4, h5, h6').allInnerTexts();
  assert.deepEqual(shownHeadings.map((h) => h.trim()), headings);
  const text = await rendered.innerText();
  assert.ok(!/^#+ /m.test(text), `Markdown syntax left in the rendering:\n${text}`);
  assert.match(await page.locator('#pdf-frame').getAttribute('src'), /^blob:/);
  assert.ok(await page.locator('#pdf-frame').isVisible());
  assert.match(await page.locator('#result-meta').innerText(), /1 page/);
  await page.waitForTimeout(1000);  // the PDF viewer paints
  await shot(page, '03-result');

  // The Markdown tab shows the source text; the download is the service's Markdown, byte for byte.
  await page.click('#tab-markdown');
  assert.equal(await page.locator('#markdown-text').textContent(), expected);
  await shot(page, '04-markdown-source');
  await page.click('#tab-rendered');
  const [md] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format=markdown]')]);
  assert.equal(fs.readFileSync(await md.path(), 'utf8'), expected);
  assert.match(md.suggestedFilename(), /\.md$/);
  const [js] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-format=json]')]);
  const result = JSON.parse(fs.readFileSync(await js.path(), 'utf8'));
  assert.equal(result.markdown_content, expected);
  assert.equal(result.page_count, 1);
  assert.match(result.sha256, /^[0-9a-f]{64}$/);
  // The bundle (a job link): a zip named after the PDF, holding the same Markdown.
  const [zip] = await Promise.all([page.waitForEvent('download'), page.click('#downloads button[data-link=bundle]')]);
  assert.match(zip.suggestedFilename(), /\.zip$/);
  const zipBytes = fs.readFileSync(await zip.path());
  assert.equal(zipBytes.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
  assert.ok(zipBytes.includes(Buffer.from('result.md')), 'the bundle holds result.md');

  // A reload keeps the key (same tab) and lists the job again.
  await page.reload();
  await page.locator('#job-rows tr .status.succeeded').first().waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test('markup in a PDF stays text: no element, no script from the document', { timeout: 180000 }, async () => {
  // A PDF whose text is HTML (built with mutool, like the unit tests' PDFs).
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'quire-browser-pdf-'));
  const markup = '<img src=x onerror=alert(1)> and <script>alert(2)</script> here.';
  const content = ['%%MediaBox 0 0 612 792', '%%Font F1 Helvetica',
    'BT /F1 18 Tf 72 720 Td (Raw HTML stays text) Tj ET',
    `BT /F1 11 Tf 72 690 Td (${markup.replace(/[()\\]/g, '\\$&')}) Tj ET`, ''].join('\n');
  fs.writeFileSync(path.join(dir, 'page.txt'), content);
  const pdf = path.join(dir, 'markup.pdf');
  execFileSync('mutool', ['create', '-o', pdf, path.join(dir, 'page.txt')]);

  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  watchConsole(page, problems);
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); d.dismiss(); });
  await page.goto(`${baseUrl}/`);
  await page.fill('#api-key', apiKey);
  await page.click('#key-form button[type=submit]');
  await page.locator('#key-state.ok').waitFor();
  await page.setInputFiles('#file-input', pdf);
  await page.locator('#job-rows tr', { hasText: 'markup.pdf' }).locator('.status.succeeded').waitFor({ timeout: 120000 });
  const rendered = page.locator('#rendered');
  await rendered.locator('h1', { hasText: 'Raw HTML stays text' }).waitFor();
  assert.ok((await rendered.innerText()).includes(markup), await rendered.innerText());
  assert.equal(await rendered.locator('img, script').count(), 0);
  await shot(page, '09-markup-is-text');
  assert.deepEqual(problems, []);
  await context.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the API docs page renders the operations from docs/openapi.yaml', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  const page = await context.newPage();
  const problems = [];
  watchConsole(page, problems);
  await page.goto(`${baseUrl}/docs`);
  await page.locator('.opblock').first().waitFor({ timeout: 30000 });
  const shown = await page.locator('.opblock-summary-path').evaluateAll((els) => els.map((e) => e.dataset.path));
  const spec = JSON.parse(fs.readFileSync(path.join(root, 'docs/openapi.json'), 'utf8'));
  const methods = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);
  const documented = Object.entries(spec.paths).flatMap(([p, item]) => Object.keys(item).filter((m) => methods.has(m)).map(() => p));
  assert.deepEqual([...shown].sort(), documented.sort());
  assert.match(await page.locator('.info .title').innerText(), /quire API/);
  await shot(page, '05-api-docs');
  // Open one operation: its parameters and responses render.
  await page.locator('.opblock-summary-path[data-path="/v1/convert/jobs/{job_id}/result"]').click();
  await page.locator('.opblock.is-open .responses-table').first().waitFor();
  await shot(page, '06-api-docs-operation');
  assert.deepEqual(problems, []);
  await context.close();
});

test('a wrong API key is refused with a visible error', { timeout: 60000 }, async () => {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  watchConsole(page, problems);
  await page.goto(`${baseUrl}/`);
  await page.locator('#auth').waitFor({ state: 'visible' });
  await page.fill('#api-key', 'not-the-key');
  await page.click('#key-form button[type=submit]');
  const banner = page.locator('#banner');
  await banner.waitFor({ state: 'visible' });
  assert.match(await banner.innerText(), /unauthorized: the API key is not valid/);
  assert.match(await page.locator('#key-state').innerText(), /refused/);
  await shot(page, '07-wrong-key');
  // The refused key is not kept; a PDF dropped now is not sent, and the page says why.
  assert.equal(await page.evaluate(() => sessionStorage.getItem('quire.apiKey')), null);
  await page.setInputFiles('#file-input', samplePdf);
  await page.locator('#banner-text', { hasText: 'needs an API key' }).waitFor();
  assert.ok(await page.locator('#job-table').isHidden());
  await shot(page, '08-no-key-upload');
  assert.deepEqual(problems.filter((p) => !/401/.test(p)), []);
  await context.close();
});
