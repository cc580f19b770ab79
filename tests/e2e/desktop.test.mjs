// The real desktop app (target/debug/greenroom-app) under Xvfb, driven through
// tauri-driver and WebKitWebDriver.
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { runExercisesChecks, runFrameChecks, runRoomsChecks, runStackChecks, writeTestStack } from './lib/frame-checks.mjs';
import { WebDriverPage } from './lib/pages.mjs';
import { runTalkChecks, startFakeAudio, startSpeechStack } from './lib/talk.mjs';
import { runFirstRunChecks, runWorkspaceSwitchChecks } from './lib/first-run.mjs';
import { FIXTURE, SCREENSHOTS, TARGET, freePort, greenroom, portAccepts, start, startXvfb, stop, tempDirs, waitFor } from './lib/processes.mjs';
import { WebDriverSession } from './lib/webdriver.mjs';

const APP = path.join(TARGET, 'debug', 'greenroom-app');

test('the desktop app through tauri-driver', async (t) => {
  const dirs = tempDirs();
  const manifest = writeTestStack(dirs.workspace, FIXTURE, { web: await freePort(), flaky: await freePort() });
  const xvfb = await startXvfb();
  // The app's microphone and speaker: a private PulseAudio daemon (its variables reach the
  // app through tauri-driver's environment).
  const audio = await startFakeAudio();
  const speech = await startSpeechStack(path.join(dirs.root, 'speech'));
  const port = await freePort();
  const nativePort = await freePort();
  const driver = start('tauri-driver', ['--port', String(port), '--native-port', String(nativePort)], {
    // The app inherits its environment from tauri-driver.
    // GREENROOM_TOOLS_DIR set but empty counts as unset (issue 14): the app still finds
    // the tools setup installed.
    env: { DISPLAY: xvfb.display, GREENROOM_HOME: dirs.home, GREENROOM_TOOLS_DIR: '', ...audio.env },
  });
  let session;
  try {
    await waitFor('tauri-driver to listen', () => portAccepts(port));
    session = await createSession(`http://127.0.0.1:${port}`, { 'tauri:options': { application: APP } });
    const page = new WebDriverPage(session, 'desktop');
    const ctx = { home: dirs.home, workspace: dirs.workspace, manifest, display: xvfb.display, talk: { audio, speech, home: dirs.home, dir: dirs.root } };
    await runFirstRunChecks(t, page, ctx);
    await runFrameChecks(t, page, ctx);
    await runStackChecks(t, page, ctx);
    await runWorkspaceSwitchChecks(t, page, ctx);
    await runExercisesChecks(t, page, ctx);
    await runRoomsChecks(t, page, ctx);
    await runTalkChecks(t, page, ctx);
    await t.test('the window is titled Greenroom', async () => {
      const title = await waitFor('the window title', () => session.cmd('GET', '/title'));
      if (title !== 'Greenroom') throw new Error(`window title is ${title}`);
    });
    // A screenshot of the whole X display: what a person would see.
    await page.click('nav a[data-section=settings]');
    execFileSync('/usr/bin/import', ['-display', xvfb.display, '-window', 'root', path.join(SCREENSHOTS, 'desktop-window.png')]);
  } finally {
    // Never leave services behind, whatever failed.
    try { greenroom(dirs.home, ['--stack', manifest, 'down']); } catch { /* reported by the checks */ }
    await session?.close();
    await stop(driver);
    await speech.stop();
    await audio.stop();
    await stop(xvfb.process);
    dirs.cleanup();
  }
});

/**
 * A WebDriver session, retried while tauri-driver answers with no HTTP response at all:
 * it listens before WebKitWebDriver (which it starts) does, and on a loaded machine the
 * first request can find no native driver and get its connection dropped. Nothing was
 * launched then. Any other failure (an HTTP error: the app did not start) is not retried.
 */
async function createSession(base, capabilities, timeoutMs = 60000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await WebDriverSession.create(base, capabilities);
    } catch (e) {
      const dropped = e instanceof TypeError && /fetch failed/.test(e.message);
      if (!dropped || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
