// End-to-end test of the Lingua extension in a real VS Code: code-server (VS Code 1.139) with
// the packaged lingua.vsix installed, driven through headless Chromium by playwright-core, with
// the real Python server and the embedded model. It works as a person would: open prompt files
// copied from ../shared/data/prompts, read the status bar and its hover, hover the text, run
// the commands from the palette and pick from their quick picks, save and read the files back.
// Screenshots of each step go to extension/test/results/e2e/ (printed at the end).
//
// Environment (scripts/test_extension.sh sets these from .tools/env.sh):
//   LINGUA_NODE24, LINGUA_CODE_SERVER (entry script), LINGUA_CHROMIUM,
//   LINGUA_PYTHON (default .venv/bin/python), LINGUA_PROMPTS (default ../shared/data/prompts),
//   LINGUA_VSIX (default lingua.vsix).
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const RESULTS = path.join(ROOT, 'extension', 'test', 'results', 'e2e');
const NODE24 = need('LINGUA_NODE24');
const CODE_SERVER = need('LINGUA_CODE_SERVER');
const CHROMIUM = process.env.LINGUA_CHROMIUM ?? '/usr/bin/chromium';
const PYTHON = process.env.LINGUA_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
const PROMPTS = process.env.LINGUA_PROMPTS ?? path.resolve(ROOT, '..', 'shared', 'data', 'prompts');
const VSIX = process.env.LINGUA_VSIX ?? path.join(ROOT, 'lingua.vsix');
const MAP_PROMPT = 'graphrag/global_search_map_system_prompt__MAP_SYSTEM_PROMPT.txt';
const PROMPTY = 'prompty/socrates.prompty';

function need(name) {
  const v = process.env[name];
  if (v === undefined || v.length === 0) {
    throw new Error(`${name} is not set: run scripts/test_extension.sh (it sources .tools/env.sh)`);
  }
  return v;
}

const t0 = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${msg}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** Monaco renders spaces as U+00A0. */
const norm = (s) => s.replace(/\u00a0/g, ' ');

/** `{{ x }}` template expressions (not JSON escaped for str.format) and `{name}` format fields. */
function placeholders(text) {
  const dbl = [...text.matchAll(/\{\{(?!\s*")[^{}\n]+\}\}/g)].map((m) => m[0]);
  const single = [...text.matchAll(/(?<![{$\\])\{[A-Za-z_][\w-]*\}(?!\})/g)].map((m) => m[0]);
  return { dbl, single };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const failures = [];
let passed = 0;
function check(cond, what) {
  if (cond) {
    passed += 1;
    log(`ok: ${what}`);
  } else {
    log(`FAILED: ${what}`);
    failures.push(what);
  }
}

// --- scratch folders ----------------------------------------------------------------------
rmSync(RESULTS, { recursive: true, force: true });
mkdirSync(RESULTS, { recursive: true });
const scratch = mkdtempSync(path.join(tmpdir(), 'lingua-e2e-'));
const workspace = path.join(scratch, 'workspace');
const userData = path.join(scratch, 'user-data');
const extensions = path.join(scratch, 'extensions');
mkdirSync(path.join(workspace, 'prompts'), { recursive: true });
mkdirSync(path.join(userData, 'User'), { recursive: true });
mkdirSync(path.join(userData, 'Machine'), { recursive: true });
const mapFile = path.join(workspace, 'prompts', 'map_system_prompt.txt');
const promptyFile = path.join(workspace, 'prompts', 'socrates.prompty');
cpSync(path.join(PROMPTS, MAP_PROMPT), mapFile);
cpSync(path.join(PROMPTS, PROMPTY), promptyFile);

// The server finds its prepared model and tokenizers in Lingua's cache; pin it before the
// XDG folders are pointed at the scratch folder.
const linguaCache =
  process.env.LINGUA_CACHE_DIR ??
  execFileSync(PYTHON, ['-c', 'from lingua_core.paths import cache_dir; print(cache_dir())'], { encoding: 'utf8' }).trim();
const env = {
  ...process.env,
  LINGUA_CACHE_DIR: linguaCache,
  XDG_CACHE_HOME: path.join(scratch, 'cache'),
  XDG_CONFIG_HOME: path.join(scratch, 'config'),
  XDG_DATA_HOME: path.join(scratch, 'data'),
  TMPDIR: scratch,
};
writeFileSync(
  path.join(userData, 'User', 'settings.json'),
  JSON.stringify(
    {
      'lingua.python': PYTHON,
      'workbench.startupEditor': 'none',
      'workbench.tips.enabled': false,
      'workbench.enableExperiments': false,
      'security.workspace.trust.enabled': false,
      'telemetry.telemetryLevel': 'off',
      'update.mode': 'none',
      'extensions.autoCheckUpdates': false,
      'extensions.autoUpdate': false,
      'editor.minimap.enabled': false,
      'editor.hover.delay': 300,
      'editor.wordWrap': 'on',
      'files.autoSave': 'off',
      'chat.disableAIFeatures': true,
      'window.commandCenter': false,
    },
    null,
    2,
  ),
);

// lingua.python is machine-overridable: in code-server (a remote window) such settings come from
// the Machine settings, not the User settings.
writeFileSync(path.join(userData, 'Machine', 'settings.json'), JSON.stringify({ 'lingua.python': PYTHON }, null, 2));

// --- install the .vsix and start code-server ------------------------------------------------
if (!existsSync(VSIX)) {
  throw new Error(`${VSIX} is missing: run scripts/build_extension.sh first`);
}
log(`installing ${path.relative(ROOT, VSIX)} into a fresh extensions folder`);
execFileSync(NODE24, [CODE_SERVER, '--extensions-dir', extensions, '--user-data-dir', userData, '--install-extension', VSIX], {
  env,
  stdio: ['ignore', 'pipe', 'pipe'],
  timeout: 120_000,
});
const installed = readdirSync(extensions).filter((d) => d.startsWith('lingua-dev.lingua'));
check(installed.length === 1, `the .vsix installs (${installed.join(', ')})`);

const port = await freePort();
const csLog = path.join(RESULTS, 'code-server.log');
const cs = spawn(
  NODE24,
  [
    CODE_SERVER,
    '--auth',
    'none',
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    workspace,
  ],
  { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
);
const csOut = [];
cs.stdout.on('data', (d) => csOut.push(d));
cs.stderr.on('data', (d) => csOut.push(d));

let browser;
async function cleanup() {
  try {
    await browser?.close();
  } catch {
    /* already gone */
  }
  try {
    process.kill(-cs.pid, 'SIGTERM');
  } catch {
    /* already gone */
  }
  writeFileSync(csLog, Buffer.concat(csOut));
  // Keep the extension's log (client and server) with the screenshots.
  try {
    const found = execFileSync('find', [path.join(userData, 'logs'), '-name', '*Lingua*.log'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
    found.forEach((f, i) => cpSync(f, path.join(RESULTS, i === 0 ? 'lingua-output.log' : `lingua-output-${i}.log`)));
  } catch {
    /* no log */
  }
  // The edited prompt files, to read what the commands did.
  for (const f of [mapFile, promptyFile]) {
    cpSync(f, path.join(RESULTS, `after-${path.basename(f)}`));
  }
  rmSync(scratch, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.on('SIGTERM', () => void cleanup().then(() => process.exit(143)));

let page;
let shotNo = 0;
const screenshots = [];
async function shot(name, what) {
  shotNo += 1;
  const file = path.join(RESULTS, `${String(shotNo).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file });
  screenshots.push({ file: path.relative(ROOT, file), what });
  log(`screenshot ${path.relative(ROOT, file)}: ${what}`);
}

async function waitFor(what, fn, timeoutMs, intervalMs = 250) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) {
        return last;
      }
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

/** Runs a command from the palette by its title, as a user would. */
async function palette(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible', timeout: 10_000 });
  await input.fill(`>${title}`);
  await acceptFocused(title);
}

/** Waits until the quick pick's focused row (the one Enter takes) shows `text`, then Enter. */
async function acceptFocused(text) {
  await page.locator('.quick-input-list .monaco-list-row.focused', { hasText: text }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await page.keyboard.press('Enter');
}

/** Picks an item in the open quick pick by typing its label. */
async function pick(label) {
  const input = page.locator('.quick-input-widget input');
  await waitFor(`the quick pick with "${label}"`, async () => page.locator('.quick-input-list .monaco-list-row', { hasText: label }).first().isVisible(), 15_000);
  await input.fill(label);
  await acceptFocused(label);
}

/**
 * Opens (or switches to) a workspace file: by clicking it in the Explorer when it shows there,
 * else with Quick Open (whose list may also offer a preview diff of the file, so not later).
 */
async function openFile(name) {
  const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
  if (await row.isVisible()) {
    await row.click();
  } else {
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 10_000 });
    await page.locator('.quick-input-widget input').fill(name);
    await acceptFocused(name);
  }
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await waitFor(`${name} to be the active editor`, async () => new RegExp(`^(● )?${escaped} - `).test(await page.title()), 15_000);
  // Click into the text so that the keyboard goes to the editor, not the Explorer.
  const box = await page.locator('.editor-group-container.active .monaco-editor').first().boundingBox();
  if (box === null) {
    throw new Error(`no editor for ${name}`);
  }
  await page.mouse.click(box.x + box.width / 2, box.y + 12);
  await waitFor('the editor to have the keyboard', () => page.evaluate(() => document.activeElement?.closest('.monaco-editor') != null), 5_000);
}

/**
 * Selects whole lines first..last (1-based) with Go to Line and Expand Line Selection (Ctrl+L,
 * logical lines even when wrapped), then checks VS Code's own "(N selected)" against the file.
 */
async function selectLines(first, last, text) {
  await page.keyboard.press('Control+G');
  await page.locator('.quick-input-widget input').waitFor({ state: 'visible', timeout: 10_000 });
  await page.keyboard.type(String(first));
  await page.keyboard.press('Enter');
  await sleep(200);
  for (let i = first; i <= last; i += 1) {
    await page.keyboard.press('Control+L');
  }
  await page.keyboard.press('Shift+ArrowLeft');
  const expected = text.split('\n').slice(first - 1, last).join('\n');
  await page.keyboard.press('Control+C');
  const copied = norm(await page.evaluate(() => navigator.clipboard.readText()));
  const same = copied === expected;
  check(same, `lines ${first}-${last} selected (${copied.length} characters)`);
  if (!same) {
    log(`selected: ${JSON.stringify(copied.slice(0, 120))} … ${JSON.stringify(copied.slice(-80))}`);
    log(`expected: ${JSON.stringify(expected.slice(0, 120))} … ${JSON.stringify(expected.slice(-80))}`);
  }
}

async function statusBarText(pattern) {
  const items = await page.locator('.statusbar-item').allInnerTexts();
  return items.map(norm).find((t) => pattern.test(t));
}

/** Waits for the result of a long command: the Lingua status bar message or a notification. */
async function waitForOutcome(what, okPattern, timeoutMs) {
  return waitFor(
    what,
    async () => {
      const ok = await statusBarText(okPattern);
      if (ok !== undefined) {
        return { ok: true, text: ok };
      }
      const toasts = (await page.locator('.notification-toast').allInnerTexts()).map(norm);
      const bad = toasts.find((t) => /Lingua/.test(t) && /(fail|did not|could not|changed|cannot|error)/i.test(t));
      return bad === undefined ? undefined : { ok: false, text: bad };
    },
    timeoutMs,
    300,
  );
}

async function save() {
  await page.keyboard.press('Control+S');
  await sleep(700);
}

async function dismissToasts() {
  for (const toast of await page.locator('.notification-toast').all()) {
    await toast.hover().catch(() => undefined);
    await toast.locator('.codicon-notifications-clear').click({ timeout: 1000 }).catch(() => undefined);
  }
}

try {
  await waitFor('code-server /healthz', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, 60_000, 300);
  log(`code-server is up on port ${port}`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    env,
  });
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: `http://127.0.0.1:${port}` });
  page = await context.newPage();
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
  await page.locator('.statusbar').waitFor({ state: 'visible', timeout: 30_000 });
  log('workbench loaded');

  // 1. Open a prompt file: the status bar shows its token count.
  await openFile('map_system_prompt.txt');
  const mapBefore = readFileSync(mapFile, 'utf8');
  const countText = await waitFor('the token count in the status bar', () => statusBarText(/^\S*\s*[\d,]+ tokens/), 120_000);
  const fileTokens = Number(/([\d,]+) tokens/.exec(countText)[1].replace(/,/g, ''));
  check(fileTokens > 500 && fileTokens < 2000, `status bar shows the file's token count ("${countText}")`);
  await shot('status-bar-count', `map_system_prompt.txt open; the status bar reads "${countText}"`);

  // 2. Hover the status bar item: tokens, encoding and cost.
  await page.locator('.statusbar-item', { hasText: /tokens/ }).first().hover();
  const tip = await waitFor(
    'the status bar tooltip',
    async () => {
      const texts = (await page.locator('.workbench-hover, .monaco-hover').allInnerTexts()).map(norm);
      return texts.find((t) => /cost per call/.test(t));
    },
    15_000,
  );
  check(tip.includes(fileTokens.toLocaleString('en-US')) && /\$\d/.test(tip) && /o200k_base|cl100k_base/.test(tip), `status bar hover has tokens, encoding and cost: ${JSON.stringify(tip.slice(0, 160))}`);
  await shot('status-bar-hover', 'hover of the token count: tokens per file, encoding, cost per call and per 1,000 calls');
  await page.mouse.move(700, 450);
  await page.keyboard.press('Escape');

  // 3. Hover the text: the server's hover with the file's and the section's tokens.
  await page.locator('.editor-group-container.active .view-line', { hasText: 'Generate a response' }).first().hover({ position: { x: 40, y: 5 } });
  const hover = await waitFor(
    'the editor hover',
    async () => {
      const texts = (await page.locator('.monaco-editor .monaco-hover').allInnerTexts()).map(norm);
      return texts.find((t) => /tokens/i.test(t));
    },
    30_000,
  );
  check(hover.includes(fileTokens.toLocaleString('en-US')) || hover.includes(String(fileTokens)), `editor hover shows the file's ${fileTokens} tokens: ${JSON.stringify(hover.slice(0, 200))}`);
  await shot('editor-hover', 'hover over the prompt text: tokens of the file and of the section, cost and projected savings');
  await page.keyboard.press('Escape');
  await page.mouse.move(1300, 850);

  // 4. Compress Selection… 3x on lines 9-44 (format fields {max_length}, {context_data}).
  const mapLines = mapBefore.split('\n');
  const selected = mapLines.slice(8, 44).join('\n');
  const before = placeholders(selected);
  check(before.single.length >= 2, `the selection holds placeholders ${before.single.join(' ')}`);
  await selectLines(9, 44, mapBefore);
  // The count follows the selection after a debounce: wait until it settles.
  let previous;
  const selText = await waitFor(
    'a settled selection count in the status bar',
    async () => {
      const now = await statusBarText(/tokens · [\d,]+ selected/);
      const settled = now !== undefined && now === previous;
      previous = now;
      return settled ? now : undefined;
    },
    30_000,
    700,
  );
  const selTokens = Number(/([\d,]+) selected/.exec(selText)[1].replace(/,/g, ''));
  log(`status bar with a selection: "${selText}"`);
  await shot('selection-count', `lines 9-44 selected; the status bar reads "${selText}"`);
  await palette('Lingua: Compress Selection');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: '3x' }).first().waitFor({ state: 'visible', timeout: 15_000 });
  await shot('compress-quick-pick', 'Compress Selection… quick pick: 2x / 3x / 5x / fit N tokens / custom rate');
  await pick('3x');
  await sleep(1500);
  await shot('compress-progress', 'compression running: progress notification with Cancel, the editor stays usable');
  const outcome = await waitForOutcome('the 3x compression', /Lingua: [\d,]+ → [\d,]+ tokens/, 240_000);
  check(outcome.ok, `compression reported: ${outcome.text}`);
  const origin = Number((/([\d,]+) →/.exec(outcome.text ?? '') ?? ['', '0'])[1].replace(/,/g, ''));
  check(Math.abs(origin - selTokens) <= Math.max(3, selTokens * 0.02), `the status bar's selection count (${selTokens}) agrees with the server's (${origin})`);
  await save();
  const mapAfter = readFileSync(mapFile, 'utf8');
  const after = placeholders(mapAfter);
  check(mapAfter.length < mapBefore.length * 0.85, `the document got shorter: ${mapBefore.length} → ${mapAfter.length} characters`);
  check(
    before.single.every((p) => after.single.includes(p)),
    `format fields kept verbatim: ${before.single.join(' ')}`,
  );
  check(
    mapAfter.startsWith(mapLines.slice(0, 8).join('\n')) && mapAfter.endsWith(mapLines.slice(44).join('\n')),
    'the text before line 9 and after line 44 is untouched',
  );
  // Show the compressed lines 9-… from the top of the file.
  await page.keyboard.press('Control+Home');
  await sleep(400);
  await shot('compressed', 'after Compress Selection 3x: lines 9-44 shortened, {max_length} and {context_data} intact');

  // 5. Preview Compression on the .prompty file ({{x}} placeholders), then Apply.
  await openFile('socrates.prompty');
  const langMode = await waitFor('the language mode', () => statusBarText(/^Prompty$/), 10_000).catch(() => undefined);
  check(langMode === 'Prompty', `.prompty files get the Prompty language (status bar: ${langMode})`);
  const promptyBefore = readFileSync(promptyFile, 'utf8');
  const pBefore = placeholders(promptyBefore.split('\n').slice(22, 36).join('\n'));
  check(pBefore.dbl.length >= 3, `the prompty selection holds ${pBefore.dbl.join(' ')}`);
  await selectLines(23, 36, promptyBefore);
  await palette('Lingua: Preview Compression');
  await pick('2x');
  await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 240_000 });
  await sleep(1500);
  const diffTab = norm(await page.locator('.tab.active').first().innerText());
  check(/original ↔ compressed/.test(diffTab), `the diff editor opened: "${diffTab.split('\n')[0]}"`);
  await shot('preview-diff', 'Preview Compression 2x: diff editor original (left) vs compressed (right), Apply/Discard in the title bar and the notification');
  const applyButton = page.locator('.notification-toast', { hasText: 'Lingua preview' }).locator('.monaco-button', { hasText: 'Apply' });
  await applyButton.click({ timeout: 15_000 });
  await waitFor('the diff editor to close', async () => !(await page.locator('.monaco-diff-editor').first().isVisible()), 15_000);
  await save();
  const promptyAfter = readFileSync(promptyFile, 'utf8');
  check(promptyAfter.length < promptyBefore.length, `Apply shortened socrates.prompty: ${promptyBefore.length} → ${promptyAfter.length} characters`);
  check(
    pBefore.dbl.every((p) => promptyAfter.includes(p)),
    `placeholders kept verbatim: ${[...new Set(pBefore.dbl)].join(' ')}`,
  );
  check(promptyAfter.startsWith(promptyBefore.split('\n').slice(0, 22).join('\n')), 'the front matter outside the selection is untouched');
  await shot('preview-applied', 'after Apply: the compressed text replaced the selection');

  // 6. A stale preview is never applied: preview, edit the document, then Apply.
  await openFile('map_system_prompt.txt');
  const mapNow = readFileSync(mapFile, 'utf8');
  const tail = mapNow.split('\n').length;
  await selectLines(tail - 12, tail - 1, mapNow);
  await palette('Lingua: Preview Compression');
  await pick('5x');
  await page.locator('.monaco-diff-editor').first().waitFor({ state: 'visible', timeout: 240_000 });
  await dismissToasts();
  await openFile('map_system_prompt.txt');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' edited');
  const unsaved = await page.evaluate(() => document.title);
  log(`edited the document after the preview (${unsaved})`);
  await palette('Lingua: Apply Compression');
  const stale = await waitFor(
    'the stale-preview warning',
    async () => (await page.locator('.notification-toast').allInnerTexts()).map(norm).find((t) => /changed since the preview/.test(t)),
    15_000,
  );
  check(stale !== undefined, `stale preview refused: "${stale.split('\n').find((l) => /changed/.test(l))}"`);
  await shot('stale-preview-refused', 'the document was edited after the preview: Apply refuses and says why');
  await save();
  const mapFinal = readFileSync(mapFile, 'utf8');
  check(mapFinal.endsWith(' edited') || mapFinal.trimEnd().endsWith('edited'), 'the edited document was not overwritten by the stale preview');
  await dismissToasts();
  await palette('Lingua: Discard Compression').catch(() => undefined);

  // 7. Show What Will Be Dropped: heat colours and struck-through words.
  await openFile('map_system_prompt.txt');
  await selectLines(tail - 12, tail - 1, readFileSync(mapFile, 'utf8'));
  await palette('Lingua: Show What Will Be Dropped');
  const struck = await waitFor(
    'struck-through (dropped) words',
    () =>
      page.evaluate(() => {
        let n = 0;
        for (const el of document.querySelectorAll('.editor-group-container.active .view-line span')) {
          if (getComputedStyle(el).textDecorationLine.includes('line-through')) {
            n += 1;
          }
        }
        return n;
      }),
    240_000,
    500,
  );
  check(struck > 0, `heat view: ${struck} word spans struck through as dropped`);
  await page.keyboard.press('Home');
  await sleep(500);
  await shot('heat-view', 'Show What Will Be Dropped: words coloured red (likely dropped) to green (kept), dropped words struck through');
  await page.keyboard.press('Escape');
  await page.keyboard.type('x');
  await sleep(800);
  const struckAfterEdit = await page.evaluate(() => {
    let n = 0;
    for (const el of document.querySelectorAll('.editor-group-container.active .view-line span')) {
      if (getComputedStyle(el).textDecorationLine.includes('line-through')) {
        n += 1;
      }
    }
    return n;
  });
  check(struckAfterEdit === 0, `the heat view clears on edit (${struckAfterEdit} struck spans left)`);
  await page.keyboard.press('Control+Z');

  // 8. Cancel: a whole-file compression at a custom rate, cancelled from its notification.
  await save();
  const beforeCancel = readFileSync(mapFile, 'utf8');
  await page.keyboard.press('Control+A');
  await palette('Lingua: Compress Selection');
  await pick('Custom rate');
  await page.locator('.quick-input-widget input').fill('0.6');
  await page.keyboard.press('Enter');
  const cancel = page.locator('.notification-toast', { hasText: 'Lingua: compressing' }).locator('.monaco-button', { hasText: 'Cancel' });
  await cancel.click({ timeout: 10_000 });
  const cancelled = await waitFor('the cancelled message', () => statusBarText(/compression cancelled/), 30_000).catch(() => undefined);
  check(cancelled !== undefined, `Cancel stops the compression ("${cancelled}")`);
  await shot('compress-cancelled', 'a whole-file compression cancelled from its progress notification');
  await sleep(3000);
  await save();
  check(readFileSync(mapFile, 'utf8') === beforeCancel, 'a cancelled compression leaves the document unchanged');
} catch (err) {
  failures.push(`error: ${err instanceof Error ? err.message : String(err)}`);
  log(`ERROR: ${err instanceof Error ? err.stack : String(err)}`);
  if (page !== undefined) {
    await shot('failure', 'the screen when the test failed').catch(() => undefined);
  }
} finally {
  await cleanup();
}

writeFileSync(path.join(RESULTS, 'screenshots.json'), JSON.stringify(screenshots, null, 2));
console.log(`\nScreenshots and logs: ${RESULTS}`);
for (const s of screenshots) {
  console.log(`  ${s.file}: ${s.what}`);
}
const total = failures.length;
if (total > 0) {
  console.log(`\ne2e failures:\n  ${failures.join('\n  ')}`);
}
// The plain closing line CI reads.
console.log(`e2e: ${passed} passed, ${total} failed`);
process.exit(total === 0 ? 0 : 1);
