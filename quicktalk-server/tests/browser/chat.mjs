// Two real browser pages find each other on the bundled page and chat.
//
// Usage: QUICKTALK_URL=http://127.0.0.1:PORT/ node chat.mjs
// Env: CHROMIUM (default /usr/bin/chromium), SCREENSHOT_DIR (optional).
// Exits 0 when every check passed; prints what failed otherwise.
import net from 'node:net';
import { chromium } from 'playwright-core';

const url = process.env.QUICKTALK_URL;
if (!url) {
  console.error('QUICKTALK_URL is not set');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const shots = process.env.SCREENSHOT_DIR;

const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
  ],
});
const checks = [];
const check = (ok, what) => {
  checks.push({ ok: Boolean(ok), what });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};
const state = (page) => page.evaluate(() => document.body.dataset.state);
const waitState = (page, wanted) =>
  page.waitForFunction((w) => document.body.dataset.state === w, wanted, { timeout: 10_000 });

try {
  const english = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 800 } });
  const korean = await browser.newContext({ locale: 'ko-KR', viewport: { width: 1024, height: 768 } });
  const a = await english.newPage();
  const b = await korean.newPage();
  const alerts = [];
  for (const page of [a, b]) page.on('dialog', (d) => { alerts.push(d.message()); d.dismiss(); });
  await a.goto(url);
  await b.goto(url);

  check((await a.getAttribute('html', 'lang')) === 'en', 'an English browser gets the English page');
  check((await b.getAttribute('html', 'lang')) === 'ko', 'a Korean browser gets the Korean page');
  await a.waitForFunction(() => /\d/.test(document.querySelector('#online')?.textContent || ''), null, { timeout: 10_000 });
  check(true, 'the online count is shown');

  await a.fill('#interests', 'music');
  await b.fill('#interests', 'music');
  await a.click('#start');
  await waitState(a, 'waiting');
  check(true, 'pressing start waits for a stranger');
  // Keyboard only on the second page: focus start and press Enter.
  await b.focus('#start');
  await b.keyboard.press('Enter');
  await waitState(a, 'chatting');
  await waitState(b, 'chatting');
  check(true, 'two pages are matched');

  // Typing indicator.
  await a.focus('#input');
  await a.keyboard.type('hel');
  await b.waitForSelector('#typing:not([hidden])', { timeout: 5_000 });
  check(true, 'the stranger sees the typing indicator');
  await a.fill('#input', '');

  // Lines both ways, with markup that must stay text.
  const evil = '<img src=x onerror="alert(1)"><b>bold</b> 안녕';
  await a.fill('#input', evil);
  await a.keyboard.press('Enter');
  await b.waitForSelector('#log [data-from="stranger"]', { timeout: 5_000 });
  const received = await b.textContent('#log [data-from="stranger"]');
  check(received.includes(evil), 'the stranger sees the line exactly as typed');
  check((await b.$$('#log img, #log b')).length === 0, 'markup in a message is not rendered');
  await a.waitForSelector('#log [data-from="you"][data-seq="1"]', { timeout: 5_000 });
  check(true, 'the sender sees its own line acknowledged with seq 1');
  await b.fill('#input', '반가워요');
  await b.click('#send');
  await a.waitForSelector('#log [data-from="stranger"]', { timeout: 5_000 });
  check((await a.textContent('#log [data-from="stranger"]')).includes('반가워요'), 'lines go both ways');

  // Too fast: lines over the rate limit are marked, never put back into the
  // box by themselves (that glued them to the next line typed), and the
  // line's button (a real one: keyboard users reach it) hands its text back.
  for (let n = 1; n <= 14; n++) {
    await a.fill('#input', `fast ${n}`);
    await a.keyboard.press('Enter');
  }
  await a.waitForSelector('#log .line.failed.retry', { timeout: 5_000 });
  await a.waitForTimeout(500);
  check((await a.inputValue('#input')) === '', 'a line over the rate limit is not put back into the box');
  const glued = await b.$$eval('#log [data-from="stranger"] .text', (nodes) =>
    nodes.some((node) => (node.textContent.match(/fast \d+/g) || []).length > 1));
  check(!glued, 'no two lines arrive glued together');
  const retryText = await a.$eval('#log .line.failed.retry', (node) => node.querySelector('.text').textContent);
  await a.click('#log .line.failed.retry button.retry');
  check((await a.inputValue('#input')) === retryText, 'a click on a too-fast line\'s button puts it back');
  await a.fill('#input', '');
  await a.focus('#log .line.failed.retry button.retry');
  await a.keyboard.press('Enter');
  check((await a.inputValue('#input')) === retryText && (await a.evaluate(() => document.activeElement.id)) === 'input',
    'the button works from the keyboard and leaves the cursor in the box');
  await a.fill('#input', '');

  // A line over the limit is said right above the box, and not sent.
  const limit = await a.evaluate(() => S.limits.max_text_chars);
  await a.fill('#input', '가'.repeat(limit + 1));
  await a.keyboard.press('Enter');
  check(await a.isVisible('#too-long') && (await a.textContent('#too-long')).includes(String(limit))
    && (await a.inputValue('#input')).length === limit + 1,
    'a line over the limit is explained above the box and stays there, unsent');
  await a.fill('#input', '가'.repeat(limit));
  check(await a.isHidden('#too-long'), 'the explanation goes once the line fits');
  await a.fill('#input', '');

  // A right-to-left line and the box take their own direction.
  check(await a.$eval('#log .line .text', (node) => node.dir) === 'auto' && (await a.getAttribute('#input', 'dir')) === 'auto',
    'lines and the box take the direction of their text (Hebrew, Arabic)');

  // Switch language live.
  await a.click('#lang-ko');
  check((await a.getAttribute('html', 'lang')) === 'ko', 'the language can be switched');
  const times = await a.$eval('#log .line[data-ts]', (node) => {
    const at = new Date(Number(node.dataset.ts));
    return { title: node.title, ko: at.toLocaleTimeString('ko'), en: at.toLocaleTimeString('en') };
  });
  check(times.title === times.ko && times.ko !== times.en, "a line's time follows the language switch");
  await a.click('#lang-en');

  if (shots) {
    await a.screenshot({ path: `${shots}/chat-en-phone.png`, fullPage: true });
    await b.screenshot({ path: `${shots}/chat-ko-desktop.png`, fullPage: true });
  }

  // Esc twice skips (Omegle style); the other page is told.
  await b.focus('#input');
  await b.keyboard.press('Escape');
  check((await b.textContent('#status')) === 'Esc를 한 번 더 누르면 이 상대를 건너뜁니다.',
    'the first Esc says (in the live status) that a second one skips');
  await b.keyboard.press('Escape');
  await a.waitForFunction(() => ['ended', 'idle'].includes(document.body.dataset.state), null, { timeout: 5_000 });
  check(true, 'Esc twice skips and the stranger is told');
  check(alerts.length === 0, 'no script from a message ever ran');

  // A bot (a program that joins with bot: true; the test server allows
  // bots) meets the skipping page, which must say it is a bot.
  await waitState(b, 'waiting');
  const botPage = await english.newPage();
  await botPage.goto(url);
  await botPage.evaluate(() => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${location.origin.replace(/^http/, 'ws')}/ws`);
    window.botSocket = ws;
    ws.onmessage = (event) => {
      const frame = JSON.parse(event.data);
      if (frame.type === 'hello') ws.send(JSON.stringify({ type: 'join', interests: ['music'], bot: true }));
      if (frame.type === 'matched') resolve();
    };
    setTimeout(() => reject(new Error('the bot was never matched')), 10_000);
  }));
  await waitState(b, 'chatting');
  const logText = await b.textContent('#log');
  check(logText.includes('봇(프로그램)'), 'a bot partner is labelled as a bot on the page');

  // Report and skip (the dialog's default): the thanks is shown although
  // the log is cleared for the next search, and the reported stranger's
  // Report button is gone.
  await b.click('#report');
  await b.check('#report-reasons input[value="spam"]');
  await b.click('#report-submit');
  await waitState(b, 'waiting');
  await b.waitForFunction(() => document.querySelector('#banner-text').textContent.includes('신고가 접수'), null, { timeout: 5_000 });
  check(true, 'the report is acknowledged when the page skips to the next stranger');
  check(await b.isHidden('#report'), 'the Report button is gone once that stranger is reported');
  check(await b.evaluate(() => document.activeElement !== document.body && document.activeElement.id !== 'report'),
    'focus moves to a control after a report instead of falling to the page (outside review)');
  check(await b.$eval('#typing', (node) => node.getAttribute('role')) === 'status',
    "the partner's typing is announced to screen readers");
  await english.close();
  await korean.close();

  // A phone-sized log follows incoming lines, long ones included, and a
  // reload in the middle of a chat resumes it: the lines shown come back,
  // the line sent meanwhile arrives once, the stranger notices nothing.
  {
    const phone = await (await browser.newContext({ locale: 'en-US', viewport: { width: 375, height: 667 } })).newPage();
    const other = await (await browser.newContext({ locale: 'ko-KR' })).newPage();
    for (const page of [phone, other]) {
      await page.goto(url);
      // The phone's second interest is too long: the page says it left it out.
      await page.fill('#interests', page === phone ? `reloading, ${'x'.repeat(40)}` : 'reloading');
      await page.click('#start');
    }
    check((await phone.textContent('#banner-text')).includes('Left out 1'), 'an interest left out is named');
    // The header stays one row on a small phone, in both languages.
    await phone.setViewportSize({ width: 360, height: 667 });
    for (const lang of ['ko', 'en']) {
      await phone.click(`#lang-${lang}`);
      const { height, overflow } = await phone.evaluate(() => ({
        height: document.querySelector('header').getBoundingClientRect().height,
        overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      }));
      check(height < 70 && overflow <= 0,
        `the header is one row on a 360 px phone in ${lang} (${Math.round(height)} px high, ${overflow} px too wide)`);
    }
    await phone.setViewportSize({ width: 375, height: 667 });
    await waitState(phone, 'chatting');
    await waitState(other, 'chatting');
    const long = '긴 줄 '.repeat(60);
    for (let n = 1; n <= 8; n++) {
      await other.fill('#input', n % 3 === 0 ? `${n} ${long}` : `short ${n}`);
      await other.keyboard.press('Enter');
      await phone.waitForSelector(`#log [data-from="stranger"][data-seq="${n}"]`, { timeout: 5_000 });
    }
    await phone.waitForTimeout(200);
    const gap = await phone.$eval('#log', (log) => log.scrollHeight - log.scrollTop - log.clientHeight);
    check(gap < 2, `the log follows incoming lines, long ones too (${gap} px from the end)`);

    // A phone on its side keeps room for the log (measured without the
    // 7-s notice about the interest left out, which still shows here).
    await phone.evaluate(() => hideBanner());
    await phone.setViewportSize({ width: 740, height: 360 });
    const logHeight = await phone.$eval('#log', (log) => log.clientHeight);
    check(logHeight >= 170, `a phone on its side keeps the log ${logHeight} px of its 360 px`);
    await phone.setViewportSize({ width: 375, height: 667 });
    await phone.$eval('#log', (log) => { log.scrollTop = log.scrollHeight; });

    // A reader scrolled up stays where they are and is told a line came.
    await phone.$eval('#log', (log) => { log.scrollTop = 0; log.dispatchEvent(new Event('scroll')); });
    await other.fill('#input', 'while you read back');
    await other.keyboard.press('Enter');
    await phone.waitForSelector('#new-lines:not([hidden])', { timeout: 5_000 });
    check(await phone.$eval('#log', (log) => log.scrollTop) === 0,
      'a reader scrolled up is not moved by a new line, and a "new message" button shows');
    await phone.click('#new-lines');
    const after = await phone.$eval('#log', (log) => log.scrollHeight - log.scrollTop - log.clientHeight);
    check(after < 2 && await phone.isHidden('#new-lines'), 'the button takes the reader down to the new line');

    await phone.fill('#input', 'before the reload');
    await phone.keyboard.press('Enter');
    await phone.waitForSelector('#log [data-from="you"][data-seq="10"]', { timeout: 5_000 });
    await phone.reload();
    await other.fill('#input', 'while you reloaded');
    await other.keyboard.press('Enter');
    await waitState(phone, 'chatting');
    await phone.waitForFunction(() => [...document.querySelectorAll('#log [data-from="stranger"] .text')]
      .some((node) => node.textContent === 'while you reloaded'), null, { timeout: 10_000 });
    const texts = await phone.$$eval('#log [data-from] .text', (nodes) => nodes.map((node) => node.textContent));
    const count = (text) => texts.filter((t) => t === text).length;
    check(count('before the reload') === 1 && count('short 1') === 1,
      'a reloaded page shows the chat it had, once');
    check(count('while you reloaded') === 1, 'a reloaded page gets the line sent meanwhile, once');
    check((await phone.textContent('#log')).includes('reloading'), 'a reloaded page still names the common interests');
    check((await phone.evaluate(() => document.activeElement.id)) === 'input', 'a reloaded chat has the cursor in the box');
    await phone.fill('#input', 'after the reload');
    await phone.keyboard.press('Enter');
    await other.waitForFunction(() => [...document.querySelectorAll('#log [data-from="stranger"] .text')]
      .some((node) => node.textContent === 'after the reload'), null, { timeout: 5_000 });
    check((await state(other)) === 'chatting' && !(await other.textContent('#log')).includes('끊어'),
      'the stranger chats on and never hears of the reload');

    // Dark mode: the send button and the armed skip read at 4.5:1 or more.
    await phone.emulateMedia({ colorScheme: 'dark' });
    const contrast = await phone.evaluate(() => {
      const lum = (color) => {
        const [r, g, b] = color.match(/[\d.]+/g).slice(0, 3).map((v) => {
          const c = Number(v) / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const ratio = (node) => {
        const style = getComputedStyle(node);
        const [hi, lo] = [lum(style.color), lum(style.backgroundColor)].sort((x, y) => y - x);
        return (hi + 0.05) / (lo + 0.05);
      };
      const next = document.querySelector('#next');
      next.classList.add('armed');
      const armed = ratio(next);
      next.classList.remove('armed');
      return { send: ratio(document.querySelector('#send')), armed };
    });
    check(contrast.send >= 4.5 && contrast.armed >= 4.5,
      `dark mode buttons are readable (send ${contrast.send.toFixed(2)}:1, armed skip ${contrast.armed.toFixed(2)}:1)`);
    await phone.emulateMedia({ colorScheme: 'light' });

    // A hidden tab stores each line it receives: a phone may discard it
    // without another chance to save.
    await phone.evaluate(() => Object.defineProperty(document, 'hidden', { value: true, configurable: true }));
    await other.fill('#input', 'while you were away');
    await other.keyboard.press('Enter');
    await phone.waitForFunction(() => (sessionStorage.getItem('qt.chat') || '').includes('while you were away'),
      null, { timeout: 5_000 });
    check(true, 'a hidden tab stores each line it receives');
    await phone.evaluate(() => delete document.hidden);

    // The browser going offline is shown at once (not after a ping goes
    // unanswered), and coming back resumes.
    await phone.context().setOffline(true);
    await phone.waitForFunction(() => document.body.dataset.state === 'reconnecting', null, { timeout: 3_000 });
    check(true, 'going offline is shown at once');
    check((await phone.textContent('#online')) === 'Connecting...', 'no stale online count while the link is down');
    await phone.context().setOffline(false);
    await waitState(phone, 'chatting');
    check(true, 'coming back online resumes the chat');
    check(/^\d+ online$/.test(await phone.textContent('#online')), 'the online count is back after the resume');

    // On a phone the report dialog's buttons are on screen.
    await phone.click('#report');
    const submit = await phone.$eval('#report-submit', (button) => button.getBoundingClientRect().bottom);
    check(submit <= 667, `the report button is on a phone's screen (bottom at ${Math.round(submit)} px)`);
    await phone.click('#report-cancel');

    // A tap on Next asks first (a thumb slipping off the box must not end
    // a chat); a second tap skips.
    await phone.click('#next');
    check((await state(phone)) === 'chatting' && (await phone.textContent('#next')) === 'Really?'
      && (await phone.textContent('#status')).includes('Next again'), 'a first tap on Next only asks');
    await phone.click('#next');
    await phone.waitForFunction(() => document.body.dataset.view === 'waiting', null, { timeout: 5_000 });
    check(true, 'a second tap on Next skips');
    await phone.context().close();
    await other.context().close();
  }

  // A link that dies without a close (a phone changing networks): one page
  // talks through a TCP proxy that stops forwarding its connection but
  // keeps it open. The page's ping gets no answer, it gives the socket up,
  // reconnects (new connections pass) and resumes with the line it missed.
  const links = new Set();
  const target = new URL(url);
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(Number(target.port), target.hostname);
    const link = { inbound, outbound };
    const end = () => { inbound.destroy(); outbound.destroy(); links.delete(link); };
    for (const socket of [inbound, outbound]) { socket.on('error', end); socket.on('close', end); }
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    links.add(link);
  });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const frozen = [];
  try {
    const far = await (await browser.newContext({ locale: 'en-US' })).newPage();
    const near = await (await browser.newContext({ locale: 'ko-KR' })).newPage();
    await far.clock.install();
    await far.goto(`http://127.0.0.1:${proxy.address().port}/`);
    await near.goto(url);
    for (const page of [far, near]) {
      await page.fill('#interests', 'deadlink');
      await page.click('#start');
    }
    await waitState(far, 'chatting');
    await waitState(near, 'chatting');
    for (const link of links) {
      link.inbound.unpipe(link.outbound);
      link.outbound.unpipe(link.inbound);
      link.inbound.pause();
      link.outbound.pause();
      frozen.push(link);
    }
    await near.fill('#input', 'while you were away');
    await near.keyboard.press('Enter');
    await near.waitForSelector('#log [data-from="you"][data-seq="1"]', { timeout: 5_000 });
    await far.clock.fastForward(26_000); // the next ping goes out, into the void
    check((await state(far)) === 'chatting', 'a silent link looks fine until a ping goes unanswered');
    await far.clock.fastForward(11_000); // no pong within 10 s
    await waitState(far, 'reconnecting');
    check(true, 'an unanswered ping makes the page give the dead connection up');
    await far.clock.fastForward(1_000); // the reconnect back-off
    await waitState(far, 'chatting');
    await far.waitForSelector('#log [data-from="stranger"]', { timeout: 5_000 });
    const missed = await far.$$eval('#log [data-from="stranger"] .text', (nodes) =>
      nodes.filter((node) => node.textContent === 'while you were away').length);
    check(missed === 1, 'the resumed page gets the line it missed, once');

    // After the end Enter starts a new chat (the box says so).
    await near.click('#leave');
    await waitState(far, 'ended');
    check((await far.getAttribute('#input', 'placeholder')).includes('Enter'), 'after the end the box says Enter starts a new chat');
    await far.focus('#input');
    await far.keyboard.press('Enter');
    await waitState(far, 'waiting');
    check(true, 'Enter after the end starts a new chat');
    // Two people online, the one waiting just left by the other: the page
    // says why nobody comes.
    await far.waitForFunction(() => /Few people/.test(document.querySelector('#status').textContent), null, { timeout: 10_000 });
    check(true, 'waiting with few people online says so');
  } finally {
    for (const link of frozen) { link.inbound.destroy(); link.outbound.destroy(); }
    proxy.close();
  }
} catch (error) {
  check(false, `unexpected: ${error.message}`);
} finally {
  await browser.close();
}
const failed = checks.filter((c) => !c.ok);
console.log(`${checks.length - failed.length} passed, ${failed.length} failed`);
process.exit(failed.length === 0 ? 0 : 1);
