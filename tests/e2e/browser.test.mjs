// The web UI in real Chromium (Debian's /usr/bin/chromium through playwright-core)
// against the real `greenroom serve`.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { runExercisesChecks, runFrameChecks, runRoomsChecks, runStackChecks, writeTestStack } from './lib/frame-checks.mjs';
import { PlaywrightPage } from './lib/pages.mjs';
import { runTalkChecks, startFakeAudio, startSpeechStack } from './lib/talk.mjs';
import { runFirstRunChecks, runWorkspaceSwitchChecks } from './lib/first-run.mjs';
import { FIXTURE, TARGET, freePort, greenroom, start, stop, tempDirs, waitFor } from './lib/processes.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

test('the web UI in Chromium against greenroom serve', async (t) => {
  const dirs = tempDirs();
  const manifest = writeTestStack(dirs.workspace, FIXTURE, { web: await freePort(), flaky: await freePort() });
  // The server captures and plays (the webview needs no microphone permission): it gets a
  // private PulseAudio daemon as its sound devices.
  const audio = await startFakeAudio();
  const speech = await startSpeechStack(path.join(dirs.root, 'speech'));
  const server = start(path.join(TARGET, 'debug', 'greenroom'), ['serve', '--port', '0'], {
    // Variables set but empty count as unset (issue 14): `GREENROOM_STACK=` used to fail
    // with "a value is required for '--stack'".
    env: { GREENROOM_HOME: dirs.home, GREENROOM_STACK: '', GREENROOM_LOG: '', ...audio.env },
  });
  let browser;
  try {
    const url = await waitFor('greenroom serve to print its URL', () => server.output.match(/serving the UI at (http:\/\/\S+\/\?token=[0-9a-f]{64})/)?.[1]);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const consoleErrors = [];
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    // The console only says "Failed to load resource: ... 503"; the response says which call
    // and why. A 503 is expected only where the checks leave Rooms without a LiveKit server.
    const failedResponses = [];
    page.on('response', async (r) => {
      if (r.status() < 500) return;
      const body = await r.text().catch(() => '');
      if (r.status() === 503 && body.includes('no LiveKit server answers')) return;
      failedResponses.push(`${r.status()} for ${r.request().method()} ${r.url()} ${r.request().postData() ?? ''}: ${body}`);
    });
    await page.goto(url);
    await t.test('the printed address trades its token for a cookie; without it the UI says how to get in', async () => {
      assert.ok(!page.url().includes('token='), `the token left the address bar: ${page.url()}`);
      const stranger = await browser.newContext();
      const other = await stranger.newPage();
      const refused = await other.goto(url.replace(/\?token=.*/, ''));
      assert.equal(refused.status(), 401);
      assert.match(await other.textContent('body'), /\?token=/);
      const api = await other.evaluate(async () => (await fetch('/api/call', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"command":"app_info","args":{}}' })).status);
      assert.equal(api, 401, 'a page without the cookie cannot call the API');
      await stranger.close();
    });
    const ctx = { home: dirs.home, workspace: dirs.workspace, manifest, talk: { audio, speech, home: dirs.home, dir: dirs.root } };
    await runFirstRunChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runFrameChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runStackChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runWorkspaceSwitchChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runExercisesChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runRoomsChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await runTalkChecks(t, new PlaywrightPage(page, 'browser'), ctx);
    await t.test('the page logged no errors', () => {
      // The browser logs the 400 answer to the invalid setting that the checks send on purpose,
      // the 409 that asks about the running stack, and the 503s of Rooms without a server
      // (each one checked above).
      const unexpected = [
        ...consoleErrors.filter((m) => !/status of (400 \(Bad Request\)|409 \(Conflict\)|503 \(Service Unavailable\))/.test(m)),
        ...failedResponses,
      ];
      if (unexpected.length) throw new Error(`console errors:\n${unexpected.join('\n')}`);
    });
  } finally {
    // Never leave services behind, whatever failed.
    try { greenroom(dirs.home, ['--stack', manifest, 'down']); } catch { /* reported by the checks */ }
    await browser?.close();
    await stop(server);
    await speech.stop();
    await audio.stop();
    dirs.cleanup();
  }
});
