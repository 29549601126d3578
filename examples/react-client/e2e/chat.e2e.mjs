// End-to-end test: the built React app against the real QuickTalk server,
// in headless Chromium (Debian's, never a downloaded one) via playwright-core.
//
// Usage: npm run e2e
// Env:
//   QUICKTALK_BIN    the server binary; unset = `cargo build -p quicktalk-server`
//                    in the repository root and use $CARGO_TARGET_DIR/debug/quicktalk
//   CARGO_TARGET_DIR default $HOME/.cache/quicktalk/target (only without QUICKTALK_BIN)
//   CHROMIUM         default /usr/bin/chromium
//   E2E_SKIP_BUILD=1 use the existing dist/ instead of running `npm run build`
//   E2E_SERVER_PORT, E2E_PREVIEW_PORT  fixed ports (default: free ones)
//   SCREENSHOT_DIR   optional: where to save screenshots
//
// Flow: two pages (English and Korean) start with a common interest, get
// matched, exchange lines both ways (own lines acknowledged by their echo),
// see the typing indicator; page B is dropped with the test hook
// window.__quicktalkDrop(), page A sends two lines while B is away, B resumes
// and shows each exactly once while A never hears of the drop; B reloads
// the page mid-chat and resumes from sessionStorage (A hears nothing of it
// either); A presses next, B sees the partner-left text and keyboard focus
// moves to "New chat". Then a raw-protocol bot joins (the server runs with
// --allow-bots) and A must show the bot badge; A leaves with the keyboard and
// focus lands in the interests field.
//
// Exits non-zero on any failed check; the last line is "e2e: N passed, M failed".
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = path.resolve(appDir, '../..');
const WAIT = 10_000;

const checks = [];
function check(ok, what) {
  checks.push({ ok: Boolean(ok), what });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  return Boolean(ok);
}
/** A step that must hold for the rest to make sense: a failure stops the test. */
class Stop extends Error {}
function must(ok, what) {
  if (!check(ok, what)) throw new Stop(what);
}

// ------------------------------------------------------------- processes

const children = new Set();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Starts a long-running child and keeps the tail of its output for failure reports. */
function start(name, cmd, args, options = {}) {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const tail = [];
  const keep = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line.trim()) tail.push(line);
    if (tail.length > 40) tail.splice(0, tail.length - 40);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  child.label = name;
  child.tail = tail;
  children.add(child);
  child.exited.then(() => children.delete(child));
  return child;
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await child.exited;
  clearTimeout(timer);
}

async function stopAll() {
  await Promise.all([...children].map(stop));
}

// Ctrl-C or a CI timeout: still take the server and preview down.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, async () => {
    await stopAll();
    process.exit(130);
  });
}

/** Polls `url` until it answers 200, failing early if `child` exits. */
async function waitHttp(url, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.label} exited early (code ${child.exitCode})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs / 1000} s`);
}

function run(cmd, args, options) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${result.status})`);
}

function serverBinary() {
  if (process.env.QUICKTALK_BIN) return process.env.QUICKTALK_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR || path.join(os.homedir(), '.cache', 'quicktalk', 'target');
  run('cargo', ['build', '-p', 'quicktalk-server'], {
    cwd: repoRoot,
    env: { ...process.env, CARGO_TARGET_DIR: targetDir },
  });
  return path.join(targetDir, 'debug', 'quicktalk');
}

// ----------------------------------------------------------- page helpers

const attr = (page, name) => page.evaluate((n) => document.querySelector('.app')?.getAttribute(n), name);
const waitAttr = (page, name, value, timeout = WAIT) =>
  page.waitForFunction(
    ([n, v]) => document.querySelector('.app')?.getAttribute(n) === v,
    [name, value],
    { timeout },
  );

/** Texts of the chat lines written by `from` ("you" or "stranger"), optionally with a status. */
const lineTexts = (page, from, status) =>
  page.$$eval(
    `#log [data-from="${from}"]${status ? `[data-status="${status}"]` : ''} .text`,
    (els) => els.map((e) => e.textContent),
  );
const countLine = async (page, from, text, status) =>
  (await lineTexts(page, from, status)).filter((t) => t === text).length;
const waitLine = (page, from, text, status, timeout = WAIT) =>
  page.waitForFunction(
    ([f, t, s]) =>
      [...document.querySelectorAll(`#log [data-from="${f}"]${s ? `[data-status="${s}"]` : ''} .text`)].some(
        (e) => e.textContent === t,
      ),
    [from, text, status],
    { timeout },
  );

async function sendLine(page, text) {
  await page.fill('#input', text);
  await page.keyboard.press('Enter');
}

// ------------------------------------------------------------------ main

let server;
let preview;
let browser;
try {
  if (process.env.E2E_SKIP_BUILD !== '1') run('npm', ['run', 'build'], { cwd: appDir });
  must(existsSync(path.join(appDir, 'dist', 'index.html')), 'the app is built (dist/index.html)');

  const bin = serverBinary();
  must(existsSync(bin), `the server binary exists (${bin})`);

  const serverPort = Number(process.env.E2E_SERVER_PORT) || (await freePort());
  const previewPort = Number(process.env.E2E_PREVIEW_PORT) || (await freePort());
  const origin = `http://127.0.0.1:${previewPort}`;
  const serverArgs = [
    '--bind', `127.0.0.1:${serverPort}`,
    '--store', 'memory',
    '--allowed-origins', origin,
    '--interest-wait-secs', '1',
    '--allow-bots',
  ];
  server = start('quicktalk server', bin, serverArgs, { env: { ...process.env, QUICKTALK_LOG: 'warn' } });
  await waitHttp(`http://127.0.0.1:${serverPort}/livez`, server);
  check(true, `the server answers /livez on port ${serverPort}`);

  const viteBin = path.join(appDir, 'node_modules', 'vite', 'bin', 'vite.js');
  preview = start('vite preview', process.execPath, [
    viteBin, 'preview', '--port', String(previewPort), '--strictPort', '--host', '127.0.0.1',
  ], { cwd: appDir });
  await waitHttp(`${origin}/`, preview);
  check(true, `vite preview serves the app on port ${previewPort}`);

  const wsUrl = `ws://127.0.0.1:${serverPort}/ws`;
  const appUrl = `${origin}/?server=${encodeURIComponent(wsUrl)}`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  const english = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 800 } });
  const korean = await browser.newContext({ locale: 'ko-KR', viewport: { width: 1024, height: 768 } });
  const a = await english.newPage();
  const b = await korean.newPage();
  const pageErrors = [];
  for (const [name, page] of [['A', a], ['B', b]]) {
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    page.on('dialog', (d) => {
      pageErrors.push(`${name}: unexpected dialog ${d.message()}`);
      d.dismiss();
    });
  }
  await a.goto(appUrl);
  await b.goto(appUrl);

  // -------------------------------------------------------------- start
  check((await a.getAttribute('html', 'lang')) === 'en', 'an English browser gets the English UI');
  check((await b.getAttribute('html', 'lang')) === 'ko', 'a Korean browser gets the Korean UI');
  check((await b.textContent('#start'))?.trim() === '시작하기', 'the Korean UI says 시작하기');
  await waitAttr(a, 'data-status', 'open');
  await waitAttr(b, 'data-status', 'open');
  await a.waitForFunction(() => /\d/.test(document.querySelector('#online')?.textContent || ''), null, { timeout: WAIT });
  check(true, 'both pages connect and show the online count');

  await a.fill('#interests', 'Music, e2e  Test');
  const chips = await a.$$eval('#chips li', (els) => els.map((e) => e.textContent));
  check(JSON.stringify(chips) === JSON.stringify(['music', 'e2e test']),
    `interests are split on commas only (chips ${JSON.stringify(chips)})`);
  await b.fill('#interests', 'music');
  await a.click('#start');
  await waitAttr(a, 'data-phase', 'waiting');
  check(true, 'pressing start waits for a stranger');
  await b.click('#start');
  await waitAttr(a, 'data-phase', 'chatting');
  await waitAttr(b, 'data-phase', 'chatting');
  check(true, 'the two pages are matched');
  check((await a.textContent('#common'))?.includes('music'), 'A shows the common interest');
  check((await b.textContent('#common'))?.includes('music'), 'B shows the common interest');
  check((await a.$('#bot-badge')) === null, 'a person gets no bot badge');

  // ------------------------------------------------------------- typing
  await a.focus('#input');
  await a.keyboard.type('hel');
  await b.waitForSelector('#typing', { timeout: 5000 });
  check(true, 'B sees that A is typing');
  await a.fill('#input', '');
  await b.waitForSelector('#typing', { state: 'detached', timeout: 5000 });
  check(true, 'the typing indicator goes away when A clears the input');

  // -------------------------------------------------------------- lines
  const fromA = 'Hello from A <b>안녕</b>';
  await sendLine(a, fromA);
  await waitLine(b, 'stranger', fromA);
  check(true, 'B receives the line from A, exactly as typed');
  await waitLine(a, 'you', fromA, 'sent');
  check((await a.getAttribute('#log [data-from="you"][data-status="sent"]', 'data-seq')) === '1',
    'A sees its own line acknowledged with seq 1');
  check((await b.$$('#log b')).length === 0, 'markup in a line is not rendered');

  const fromB = '반가워요 from B';
  await b.fill('#input', fromB);
  await b.click('#send');
  await waitLine(a, 'stranger', fromB);
  await waitLine(b, 'you', fromB, 'sent');
  check(true, 'lines go both ways and B sees its own line acknowledged');

  // ------------------------------------------------- drop B, A goes on
  await b.evaluate(() => window.__quicktalkDrop(4000));
  check((await attr(b, 'data-status')) === 'reconnecting', 'the test hook drops B (reconnecting)');
  const away = ['while you were away 1', 'while you were away 2'];
  for (const text of away) await sendLine(a, text);
  for (const text of away) await waitLine(a, 'you', text, 'sent');
  check(true, 'A sends two lines and gets both acknowledged');
  must((await attr(b, 'data-status')) === 'reconnecting', 'B was still away while A sent them');
  check((await lineTexts(b, 'stranger')).length === 1, 'B has not seen them yet');
  const offline = 'typed by B while offline';
  await sendLine(b, offline);
  check((await countLine(b, 'you', offline, 'pending')) === 1, 'a line B types while offline is shown pending');

  await waitAttr(b, 'data-status', 'open', 20_000);
  check(true, 'B reconnects and resumes');
  for (const text of away) await waitLine(b, 'stranger', text);
  await waitLine(b, 'you', offline, 'sent');
  await waitLine(a, 'stranger', offline);
  await b.waitForTimeout(700); // time for any duplicate to show up
  for (const text of away) check((await countLine(b, 'stranger', text)) === 1, `B shows "${text}" exactly once`);
  check((await countLine(b, 'you', offline)) === 1, "B's offline line was sent once and acknowledged");
  check((await countLine(a, 'stranger', offline)) === 1, "A receives B's offline line exactly once");
  const bSeqs = await b.$$eval('#log [data-seq]', (els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  check(JSON.stringify(bSeqs) === JSON.stringify([1, 2, 3, 4, 5]), `B's log is gap-free and in order (seqs ${bSeqs})`);
  const aSeqs = await a.$$eval('#log [data-seq]', (els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  check(JSON.stringify(aSeqs) === JSON.stringify([1, 2, 3, 4, 5]), `A's log matches (seqs ${aSeqs})`);
  check((await a.$$('#log [data-notice="partner_left"]')).length === 0, 'A never saw a partner_left');
  check((await attr(a, 'data-phase')) === 'chatting' && (await attr(a, 'data-status')) === 'open',
    "A's view is unaffected by B's drop");
  check((await attr(b, 'data-phase')) === 'chatting', 'B is back in the same chat');

  // ------------------------------------------------ reload B mid-chat
  check(await b.evaluate(() => sessionStorage.getItem('qt.react.chat') !== null && localStorage.getItem('qt.react.chat') === null),
    'B keeps its chat in sessionStorage (not localStorage)');
  await b.reload();
  await waitAttr(b, 'data-status', 'open', 20_000);
  check((await attr(b, 'data-phase')) === 'chatting', 'B reloads mid-chat and is back in the same chat');
  const reloadedSeqs = await b.$$eval('#log [data-seq]', (els) => els.map((e) => Number(e.getAttribute('data-seq'))));
  check(JSON.stringify(reloadedSeqs) === JSON.stringify([1, 2, 3, 4, 5]),
    `B shows its transcript again after the reload, each line once (seqs ${reloadedSeqs})`);
  const afterReload = 'sent after the reload';
  await sendLine(b, afterReload);
  await waitLine(a, 'stranger', afterReload);
  await waitLine(b, 'you', afterReload, 'sent');
  const afterSeq = await b.$$eval('#log [data-from="you"][data-status="sent"]', (els, text) =>
    els.filter((e) => e.querySelector('.text')?.textContent === text).map((e) => e.getAttribute('data-seq')), afterReload);
  check(JSON.stringify(afterSeq) === '["6"]', `B sends after the reload, acknowledged once with seq 6 (${afterSeq})`);
  check((await a.$$('#log [data-notice="partner_left"]')).length === 0, 'A never saw a partner_left for the reload');

  if (process.env.SCREENSHOT_DIR) {
    mkdirSync(process.env.SCREENSHOT_DIR, { recursive: true });
    await a.screenshot({ path: path.join(process.env.SCREENSHOT_DIR, 'react-chat-en-phone.png') });
    await b.screenshot({ path: path.join(process.env.SCREENSHOT_DIR, 'react-chat-ko-desktop.png') });
  }

  // ------------------------------------------------------------ next
  await a.click('#next');
  await waitAttr(a, 'data-phase', 'waiting');
  await b.waitForSelector('#log [data-notice="partner_left"]', { timeout: WAIT });
  const leftText = (await b.textContent('#log [data-notice="partner_left"]'))?.trim();
  check(leftText === '상대방이 다음 상대로 넘어갔습니다.', `B sees the partner-left text in Korean ("${leftText}")`);
  check((await attr(b, 'data-phase')) === 'ended', 'the chat has ended for B');
  check((await b.evaluate(() => document.activeElement?.id)) === 'next',
    'focus moves from the disabled message field to "New chat"');
  check(await b.evaluate(() => sessionStorage.getItem('qt.react.chat') === null), "B's stored chat is cleared when it ends");

  // ------------------------------------------------------------- a bot
  {
    // A raw-protocol bot, run from a page on the allowed origin.
    const c = await (await browser.newContext()).newPage();
    await c.goto(appUrl);
    const matched = await c.evaluate(
      (server) =>
        new Promise((resolve, reject) => {
          const ws = new WebSocket(server);
          window.__bot = ws;
          ws.onmessage = (event) => {
            const frame = JSON.parse(event.data);
            if (frame.type === 'hello') ws.send(JSON.stringify({ type: 'join', interests: ['music'], bot: true }));
            if (frame.type === 'matched') {
              ws.send(JSON.stringify({ type: 'send', text: 'beep boop', cid: 'bot-1' }));
              resolve(frame);
            }
            if (frame.type === 'error') reject(new Error(`bot got error ${frame.code}`));
          };
          setTimeout(() => reject(new Error('the bot was not matched')), 10_000);
        }),
      wsUrl,
    );
    check(matched.partner_bot !== true, 'the bot sees a person (no partner_bot)');
    await waitAttr(a, 'data-phase', 'chatting');
    await a.waitForSelector('#bot-badge', { timeout: WAIT });
    check((await a.textContent('#bot-badge'))?.includes('Bot'), 'A shows the bot badge');
    await waitLine(a, 'stranger', 'beep boop');
    await a.click('#ui-ko');
    check((await a.getAttribute('html', 'lang')) === 'ko', 'the UI language can be switched');
    check((await a.textContent('#bot-badge'))?.includes('봇'), 'the Korean bot badge says 봇');
    check(await a.evaluate(() => {
      const log = document.querySelector('#log');
      return log.scrollHeight - log.scrollTop - log.clientHeight < 60;
    }), 'the log stays at its end after the language switch');

    // Report the bot, and skip to the next stranger afterwards.
    await a.click('#report');
    await a.selectOption('#report-reason', 'spam');
    await a.fill('#report-note', 'e2e: automated report');
    await a.click('#report-submit');
    await a.waitForFunction(
      () => document.querySelector('#banner')?.textContent?.includes('신고가 접수되었습니다'),
      null,
      { timeout: WAIT },
    );
    check(true, 'the report is confirmed (reported)');
    await waitAttr(a, 'data-phase', 'waiting');
    check(true, '"also skip" moves on to the next stranger');

    // Leave (here "Cancel") with the keyboard: focus must not fall to <body>.
    await a.focus('#leave');
    await a.keyboard.press('Enter');
    await waitAttr(a, 'data-phase', 'idle');
    await a.waitForFunction(() => document.activeElement?.id === 'interests', null, { timeout: 2000 }).catch(() => {});
    check((await a.evaluate(() => document.activeElement?.id)) === 'interests',
      'after leaving with the keyboard, focus is in the interests field');
  }

  check(pageErrors.length === 0, `no script errors on the pages${pageErrors.length ? `: ${pageErrors.join('; ')}` : ''}`);
} catch (error) {
  if (!(error instanceof Stop)) check(false, `unexpected: ${error?.message ?? error}`);
  for (const child of [server, preview]) {
    if (child?.tail.length) console.log(`--- last output of ${child.label}:\n${child.tail.join('\n')}`);
  }
} finally {
  await browser?.close().catch(() => {});
  await stopAll();
}

const failed = checks.filter((c) => !c.ok);
if (failed.length) console.log(`failed checks:\n${failed.map((c) => `  - ${c.what}`).join('\n')}`);
console.log(`e2e: ${checks.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length === 0 ? 0 : 1);
