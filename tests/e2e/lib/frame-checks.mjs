// The checks both suites run: the desktop app (tauri-driver) and the browser (Chromium
// against `greenroom serve`). `page` is a PlaywrightPage or a WebDriverPage; `ctx` has the
// temporary `home` and `workspace` of this run.
import assert from 'node:assert/strict';
import { greenroom, waitFor } from './processes.mjs';

const SECTIONS = [
  ['stack', 'Stack'],
  ['talk', 'Talk'],
  ['exercises', 'Exercises'],
  ['tests', 'Tests'],
  ['rooms', 'Rooms'],
  ['settings', 'Settings'],
];

const heading = (page) => page.text('#section-title');
const eventCount = async (page) => Number.parseInt((await page.text('[data-testid=event-count]')) ?? '0', 10);

export async function runFrameChecks(t, page, ctx) {
  await t.test('the frame renders with every section in the navigation', async () => {
    await waitFor('the navigation', async () => (await page.eval('document.querySelectorAll("nav a[data-section]").length')) === 6);
    assert.equal(await page.eval('document.title'), 'Greenroom');
    await waitFor('the event channel to connect', async () => (await page.text('[data-testid=connection]'))?.includes('connected'));
    await page.screenshot('frame');
  });

  await t.test('every section is reachable by click and by keyboard, and empty ones say so', async () => {
    for (const [id, title] of SECTIONS) {
      await page.click(`nav a[data-section=${id}]`);
      await waitFor(`the ${title} heading`, async () => (await heading(page)) === title);
      if (id !== 'settings') {
        const text = await page.text('section.placeholder');
        assert.match(text ?? '', /not built yet/, `${title} must say plainly that it has no content yet`);
      }
    }
    await page.pressAlt('2');
    await waitFor('Alt+2 to open Talk', async () => (await heading(page)) === 'Talk');
    await page.pressAlt('6');
    await waitFor('Alt+6 to open Settings', async () => (await heading(page)) === 'Settings');
  });

  await t.test('a setting saved in the UI is persisted through the Rust API and announced by an event', async () => {
    await waitFor('the settings form', async () => (await page.value('input[name=workspace]')) !== null);
    const before = await eventCount(page);
    await page.fill('input[name=workspace]', ctx.workspace);
    await page.click('form[aria-label=Settings] button[type=submit]');
    await waitFor('the saved confirmation', () => page.text('[data-testid=settings-saved]'));
    // Persisted: the real CLI, reading the same home, sees it.
    assert.equal(greenroom(ctx.home, ['settings', 'show', '--json'], { json: true }).workspace, ctx.workspace);
    // Announced: the backend's settings://changed event reached the page.
    await waitFor('the settings://changed event', async () => (await page.text('[data-testid=last-event]'))?.includes('settings://changed'));
    assert.ok((await eventCount(page)) > before);
    await page.screenshot('settings-saved');
    // And it survives a reload.
    await page.reload();
    await waitFor('the workspace after reload', async () => (await page.value('input[name=workspace]')) === ctx.workspace);
  });

  await t.test('an invalid value gets a clear error and loses nothing', async () => {
    await page.click('nav a[data-section=settings]');
    await waitFor('the settings form', async () => (await page.value('input[name=livekit_url]')) !== null);
    await page.fill('input[name=livekit_url]', 'http://not-a-websocket:7880');
    await page.click('form[aria-label=Settings] button[type=submit]');
    const message = await waitFor('the error message', () => page.text('[data-testid=settings-error]'));
    assert.match(message, /livekit_url/);
    assert.match(message, /ws:\/\//);
    assert.match(message, /Nothing was saved/);
    // What the user typed is still there to fix, and the saved settings did not change.
    assert.equal(await page.value('input[name=livekit_url]'), 'http://not-a-websocket:7880');
    const saved = greenroom(ctx.home, ['settings', 'show', '--json'], { json: true });
    assert.equal(saved.livekit_url, 'ws://127.0.0.1:7880');
    assert.equal(saved.workspace, ctx.workspace);
    await page.screenshot('settings-error');
    await page.fill('input[name=livekit_url]', 'ws://127.0.0.1:7880');
  });

  await t.test('a secret is accepted, shown only as set, and never echoed', async () => {
    const secret = 'sk-e2e-secret-0001';
    await page.fill('input[name=mistral_api_key]', secret);
    await page.click('form[aria-label=Settings] button[type=submit]');
    await waitFor('the secret to be set', async () => (await page.text('[data-testid=mistral_api_key-state]'))?.trim() === 'set');
    assert.equal(await page.value('input[name=mistral_api_key]'), '');
    const html = await page.eval('document.documentElement.outerHTML');
    assert.ok(!html.includes(secret), 'the secret must not be in the page');
    assert.ok(!greenroom(ctx.home, ['settings', 'show']).includes(secret));
  });

  await t.test('the machine check streams its progress as backend events', async () => {
    const before = await eventCount(page);
    await page.click('section[aria-label="This machine"] button');
    const summary = await waitFor('the machine check summary', () => page.text('[data-testid=doctor-summary]'), { timeoutMs: 30000 });
    assert.match(summary, /OK/);
    const checks = await page.eval('document.querySelectorAll("li[data-check]").length');
    assert.equal(checks, 8);
    // One event per check plus doctor://finished.
    await waitFor('every doctor event', async () => (await eventCount(page)) >= before + checks + 1);
    assert.match((await page.text('li[data-check=redis-server]')) ?? '', /Redis/);
    await page.eval('document.querySelector("section[aria-label=\\"This machine\\"]").scrollIntoView()');
    await page.screenshot('machine-check');
  });
}
