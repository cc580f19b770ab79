// What a newcomer meets (issue 14), in both suites: the Stack screen before anything is
// launched, the first-run guide, picking the team's real checkout (the system's folder
// dialog in the desktop app, the folder browser in a browser), and switching the
// workspace while a stack runs.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { REPO, SCREENSHOTS, greenroom, waitFor } from './processes.mjs';

/** The team's repository snapshot, beside this checkout: a real Eloquence checkout. */
export const CHECKOUT = path.resolve(REPO, '../shared/eloquence-2025-08-04');
const DIALOG_TITLE = 'The folder of your Eloquence checkout';
const guide = '[data-testid=first-run-checkout]';

export async function runFirstRunChecks(t, page, ctx) {
  await t.test('before anything is launched, the Stack screen says "not started" and offers the two ways in', async () => {
    await waitFor('the navigation', async () => (await page.eval('document.querySelectorAll("nav a[data-section]").length')) === 6);
    await page.click('nav a[data-section=stack]');
    await waitFor('the first-run guide', () => page.text('[data-testid=first-run]'));
    assert.equal(await page.text('[data-testid=not-started]'), 'Not started');
    assert.equal(await page.eval(`document.querySelector('[data-testid=score]') === null`), true, 'no score for a stack that does not run');
    assert.equal(await page.eval(`document.querySelectorAll('section[aria-label="Stack overview"] button').length`), 1, 'Launch is the one action');
    assert.match(await page.text('[data-testid=first-run-sandbox]'), /Offline, no keys/);
    assert.match(await page.text(guide), /docker-compose\.yml/);
    await page.screenshot('first-run');
  });

  await t.test('a checkout picked in a folder dialog is checked at once, used, and pre-flighted', async () => {
    assert.ok(existsSync(path.join(CHECKOUT, 'docker-compose.yml')), `the team's snapshot is missing at ${CHECKOUT}`);
    if (ctx.display) await pickWithTheSystemDialog(page, ctx.display);
    else await pickWithTheFolderBrowser(page);
    const check = await waitFor('the folder check', async () => (await page.eval(`document.querySelector('${guide} [data-testid=workspace-check]')?.dataset.verdict ?? null`)));
    assert.equal(check, 'checkout');
    const found = await page.text(`${guide} [data-testid=workspace-check]`);
    for (const part of ['docker-compose.yml', 'frontend/flutter_app', 'services/livekit-agent']) assert.ok(found.includes(part), `${part} in: ${found}`);
    await page.screenshot('first-run-checked');
    await page.click('[data-testid=use-checkout]');
    // Saved (the CLI reads the same home), the guide gives way to that stack, and its
    // pre-flight runs before anything starts.
    await waitFor('the checkout as the stack', async () => (await page.text('section[aria-label="Stack overview"]'))?.includes('docker-compose.yml'), { timeoutMs: 20000 });
    assert.ok(greenroom(ctx.home, ['settings', 'show', '--json'], { json: true }).workspace.endsWith('eloquence-2025-08-04'));
    await waitFor('the pre-flight', async () => (await page.eval(`document.querySelector('[data-testid=finding], [data-testid=preflight-ok]') !== null`)), { timeoutMs: 30000 });
    assert.equal(await page.eval(`document.querySelector('[data-testid=first-run]') === null`), true);
    await page.screenshot('first-run-preflight');
  });
}

async function pickWithTheFolderBrowser(page) {
  await page.click(`${guide} [data-testid=choose-folder]`);
  // It opens on the home folder; type over that once it is listed.
  await waitFor('the folder browser on the home folder', async () => (await page.value('[data-testid=folder-path]')) || null);
  await page.fill('[data-testid=folder-path]', CHECKOUT);
  await page.click('[data-testid=folder-browser] form button[type=submit]');
  await waitFor('the checkout listed', async () => (await page.eval(`document.querySelector('[data-folder="frontend"]') !== null`)));
  await page.screenshot('folder-browser');
  await page.click('[data-testid=folder-choose]');
  await waitFor('the picked folder in the field', async () => (await page.value(`${guide} input[name=workspace]`)) === CHECKOUT);
}

/**
 * The real GTK folder dialog on the X display, driven with xdotool as a person would: it
 * opens where the field points (typed with a trailing slash), and Enter chooses that
 * folder. The field then holds the dialog's answer, which has no trailing slash.
 */
async function pickWithTheSystemDialog(page, display) {
  const xdotool = (args) => execFileSync('xdotool', args, { env: { ...process.env, DISPLAY: display }, encoding: 'utf8' }).trim();
  const dialog = () => {
    try {
      return xdotool(['search', '--onlyvisible', '--name', DIALOG_TITLE]).split('\n')[0];
    } catch {
      return null; // xdotool search exits 1 when nothing matches
    }
  };
  await page.fill(`${guide} input[name=workspace]`, `${CHECKOUT}/`);
  await page.click(`${guide} [data-testid=choose-folder]`);
  const window = await waitFor('the system folder dialog', dialog, { timeoutMs: 20000 });
  await new Promise((r) => setTimeout(r, 500)); // let GTK draw it before the screenshot
  execFileSync('/usr/bin/import', ['-display', display, '-window', 'root', path.join(SCREENSHOTS, 'desktop-folder-dialog.png')]);
  xdotool(['windowfocus', '--sync', window]);
  xdotool(['key', 'Return']);
  await waitFor('the folder dialog to close', async () => !dialog());
  await waitFor('the folder the dialog chose in the field', async () => (await page.value(`${guide} input[name=workspace]`)) === CHECKOUT);
}

/** Switching the workspace while the e2e stack runs: asked, kept in sight, stopped from there. */
export async function runWorkspaceSwitchChecks(t, page, ctx) {
  await t.test('switching the workspace while a stack runs asks first and keeps the running stack in sight', async () => {
    await page.click('nav a[data-section=stack]');
    await waitFor('the workspace stack', async () => (await page.text('section[aria-label="Stack overview"]'))?.includes('greenroom.toml'));
    await page.click('[data-testid=launch]');
    await waitFor('web to be healthy', async () => (await page.eval(`document.querySelector('article[data-service="web"]')?.dataset.state`)) === 'running', { timeoutMs: 20000 });
    await page.click('nav a[data-section=settings]');
    await waitFor('the settings form', async () => (await page.value('input[name=workspace]')) === ctx.workspace);
    await page.fill('input[name=workspace]', CHECKOUT);
    await page.click('form[aria-label=Settings] button[type=submit]');
    const asked = await waitFor('the question about the running stack', () => page.text('[data-testid=running-stack-dialog]'));
    assert.match(asked, /web/);
    assert.equal(greenroom(ctx.home, ['settings', 'show', '--json'], { json: true }).workspace, ctx.workspace, 'nothing saved before the answer');
    await page.screenshot('switch-asks');
    await page.click('[data-testid=running-stack-keep]');
    await waitFor('the saved confirmation', () => page.text('[data-testid=settings-saved]'));
    await page.click('nav a[data-section=stack]');
    const also = await waitFor('the kept stack under "Also running"', () => page.text('[data-testid=also-running]'));
    assert.match(also, /e2e/);
    assert.match(also, /web · PID \d+/);
    await page.screenshot('also-running');
    // The CLI sees it too, from the same home.
    assert.match(greenroom(ctx.home, ['status']), /also running: .*web \(PID \d+\)/);
    await page.click('[data-testid=stop-other]');
    await waitFor('the kept stack to stop', async () => (await page.eval(`document.querySelector('[data-testid=also-running]') === null`)), { timeoutMs: 20000 });
    const status = greenroom(ctx.home, ['--stack', ctx.manifest, 'status', '--json'], { json: true });
    assert.ok(status.status.services.every((s) => s.pid === null), JSON.stringify(status.status.services));
    // Back to the test workspace (nothing runs now: no question).
    greenroom(ctx.home, ['settings', 'set', 'workspace', ctx.workspace]);
  });
}
