// The checks both suites run: the desktop app (tauri-driver) and the browser (Chromium
// against `greenroom serve`). `page` is a PlaywrightPage or a WebDriverPage; `ctx` has the
// temporary `home` and `workspace` of this run.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO, freePort, greenroom, portAccepts, start, stop, waitFor } from './processes.mjs';

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
      if (!['settings', 'stack', 'exercises', 'rooms', 'tests', 'talk'].includes(id)) {
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

/** Writes a small stack of fixture services into the workspace: `web` (HTTP probe) and
 *  `flaky` (crashes once, 600 ms after it is ready, and is not restarted by policy). */
export function writeTestStack(workspace, fixture, ports) {
  const manifest = `name = "e2e"
[services.web]
command = ${JSON.stringify(fixture)}
args = ["--port", "${ports.web}", "--say", "web is ready for requests"]
critical = true
ports = ["${ports.web}"]
[services.web.probe]
type = "http"
url = "http://127.0.0.1:${ports.web}/health"
interval_ms = 300

[services.flaky]
command = ${JSON.stringify(fixture)}
args = ["--port", "${ports.flaky}", "--crash-after", "600", "--crash-once", ${JSON.stringify(path.join(workspace, 'flaky.crashed'))}]
ports = ["${ports.flaky}"]
depends_on = { web = "healthy" }
[services.flaky.probe]
type = "tcp"
port = ${ports.flaky}
[services.flaky.restart]
policy = "no"
`;
  writeFileSync(path.join(workspace, 'greenroom.toml'), manifest);
  // The fixture Flutter app and agent, for the Exercises screen.
  const flutter = path.join(REPO, 'tests/fixtures/flutter/eloquence');
  cpSync(path.join(flutter, 'app'), path.join(workspace, 'app'), { recursive: true });
  cpSync(path.join(flutter, 'agent'), path.join(workspace, 'agent'), { recursive: true });
  return path.join(workspace, 'greenroom.toml');
}

const rowScore = (page, id) => page.eval(`Number(document.querySelector('tr[data-exercise="${id}"]')?.dataset.score ?? -1)`);

export async function runExercisesChecks(t, page, ctx) {
  await t.test('the Exercises screen lists the registered exercises with their scores', async () => {
    await page.click('nav a[data-section=exercises]');
    await waitFor('five exercises', async () => (await page.text('[data-testid=exercise-count]')) === '5 exercises', { timeoutMs: 20000 });
    const orphans = await page.text('section[aria-label=Orphans]');
    assert.match(orphans ?? '', /ImpromptuSpeechScreen/);
    await page.click('tr[data-exercise="conversation_exercise_screen"] button.row-link');
    const detail = await waitFor('the detail of conversation', () => page.text('section[aria-label="Exercise conversation_exercise_screen"]'));
    assert.match(detail, /does not route `dialogue_libre`/);
    assert.match(detail, /blocking/);
    await page.screenshot('exercises');
  });

  await t.test('saving a file revalidates its exercise within a blink', async () => {
    const before = await rowScore(page, 'breathing_exercise_screen');
    const file = path.join(ctx.workspace, 'app/lib/features/breathing/breathing_exercise_screen.dart');
    const fixed = readFileSync(file, 'utf8').replace('  void dispose() {\n', '  void dispose() {\n    _cycle?.cancel();\n');
    writeFileSync(`${file}.tmp`, fixed);
    renameSync(`${file}.tmp`, file);
    await waitFor('breathing to score higher', async () => (await rowScore(page, 'breathing_exercise_screen')) > before, { timeoutMs: 20000 });
    assert.match((await page.text('[data-testid=live-line]')) ?? '', /breathing_exercise_screen\.dart\) revalidated in \d+ ms/);
    await page.click('tr[data-exercise="breathing_exercise_screen"] button.row-link');
    await waitFor('a score history with two points', async () => (await page.eval(`document.querySelectorAll('svg.history circle').length`)) >= 2);
    await page.screenshot('exercises-revalidated');
  });
}

const tileState = (page, id) => page.eval(`document.querySelector('article[data-service="${id}"]')?.dataset.state ?? null`);

export async function runStackChecks(t, page, ctx) {
  await t.test('the Stack screen launches the workspace stack and its tiles turn healthy', async () => {
    await page.click('nav a[data-section=stack]');
    await waitFor('the stack of the workspace', async () => (await page.text('section[aria-label="Stack overview"]'))?.includes('greenroom.toml'));
    await page.click('section[aria-label="Stack overview"] button.primary');
    await waitFor('web to be healthy', async () => (await tileState(page, 'web')) === 'running', { timeoutMs: 20000 });
    await waitFor('the launch summary', () => page.text('[data-testid=launch-ok]'), { timeoutMs: 20000 });
    const score = await page.text('[data-testid=score]');
    assert.match(score ?? '', /\d+/);
    await waitFor('web to have probe samples', async () => (await page.eval(`document.querySelectorAll('article[data-service="web"] svg polyline').length`)) === 1);
    await page.screenshot('stack-launched');
  });

  await t.test('a crashed service is repaired from its tile, after saying what will happen', async () => {
    await waitFor('flaky to crash and fail', async () => (await tileState(page, 'flaky')) === 'failed', { timeoutMs: 20000 });
    await page.click('article[data-service="flaky"] footer button.primary');
    const dialog = await waitFor('the repair dialog', () => page.text('[role=dialog]'));
    assert.match(dialog, /nothing is deleted/i);
    await page.screenshot('stack-repair-dialog');
    assert.match(dialog, /exited with code 3/);
    await page.click('[role=dialog] button.primary');
    const result = await waitFor('the repair result', () => page.text('[data-testid=repair-result]'), { timeoutMs: 20000 });
    assert.match(result, /restarted; it is up/);
    await page.click('[role=dialog] .actions button');
    await waitFor('flaky to run again', async () => (await tileState(page, 'flaky')) === 'running', { timeoutMs: 20000 });
  });

  await t.test('a service is stopped from its tile, and its log is searchable', async () => {
    await page.click('article[data-service="web"] footer button');
    await waitFor('web to stop', async () => (await tileState(page, 'web')) === 'stopped', { timeoutMs: 20000 });
    await page.fill('input[aria-label="Search logs"]', 'ready for requests');
    await waitFor('a highlighted log line', async () => (await page.text('[data-testid=log-lines] mark'))?.toLowerCase() === 'ready for requests');
    await page.screenshot('stack-logs');
    await page.fill('input[aria-label="Search logs"]', '');
  });

  await t.test('Stop all stops the stack', async () => {
    await page.click('section[aria-label="Stack overview"] .buttons button:not(.primary)');
    await waitFor('every tile to be stopped', async () => {
      const states = await page.eval(`[...document.querySelectorAll('article[data-service]')].map((a) => a.dataset.state).join(',')`);
      return states === 'stopped,stopped' || states === 'stopped,failed' || states === 'failed,stopped';
    }, { timeoutMs: 20000 });
    // The summary is the backend's, kept live by stack://summary events.
    // Both stopped: not started (issue 14); one failed: 0 of 2 healthy.
    await waitFor('the healthy count to drop to zero', async () => /^0 of 2|none running/.test((await page.text('[data-testid=ready-count]')) ?? ''));
    const status = greenroom(ctx.home, ['--stack', ctx.manifest, 'status', '--json'], { json: true });
    assert.ok(status.status.services.every((s) => s.pid === null), JSON.stringify(status.status.services));
  });
}

/** Rooms against a livekit-server of the test's own, found where setup installs it. */
export async function runRoomsChecks(t, page, ctx) {
  const tools = process.env.GREENROOM_TOOLS_DIR ?? path.join(REPO, 'tools/bin');
  const [port, tcp, udp, silent] = [await freePort(), await freePort(), await freePort(), await freePort()];
  await t.test('the Rooms screen without a LiveKit server says so and what to do', async () => {
    greenroom(ctx.home, ['settings', 'set', 'livekit_url', `ws://127.0.0.1:${silent}`]);
    await page.click('nav a[data-section=rooms]');
    const alert = await waitFor('the error banner', () => page.text('[data-testid=rooms-error]'));
    assert.match(alert, new RegExp(`no LiveKit server answers at ws://127.0.0.1:${silent}`));
    assert.match(alert, /greenroom up/);
    await page.click('nav a[data-section=settings]');
    await waitFor('the Rooms screen to unmount', async () => (await page.eval(`document.querySelector('[data-testid=livekit-url]') === null`)));
  });
  const server = start(path.join(tools, 'livekit-server'), ['--dev', '--bind', '127.0.0.1', '--config-body', `port: ${port}\nrtc:\n  tcp_port: ${tcp}\n  udp_port: ${udp}\n`]);
  try {
    await waitFor('livekit-server to listen', () => portAccepts(port), { timeoutMs: 20000 });
    greenroom(ctx.home, ['settings', 'set', 'livekit_url', `ws://127.0.0.1:${port}`]);
    await t.test('the Rooms screen creates, shows and deletes a room on the real LiveKit server', async () => {
      await page.click('nav a[data-section=rooms]');
      await waitFor('the server line', async () => (await page.text('[data-testid=livekit-url]')) === `ws://127.0.0.1:${port}`);
      await page.fill('input[aria-label="Room name"]', 'e2e-cosmic');
      await page.fill('input[aria-label="Room metadata"]', 'cosmic_voice');
      await page.click('form[aria-label="Create a room"] button[type=submit]');
      await waitFor('the new room', async () => (await page.text('tr[data-room="e2e-cosmic"]'))?.includes('cosmic_voice'), { timeoutMs: 20000 });
      await page.click('tr[data-room="e2e-cosmic"] button.row-link');
      await waitFor('its (empty) participant list', async () => (await page.text('section[aria-label="Participants of e2e-cosmic"]'))?.includes('Nobody in this room'));
      await page.screenshot('rooms');
      await page.click('tr[data-room="e2e-cosmic"] [data-testid=room-delete]');
      await waitFor('the confirmation', () => page.text('[role=dialog]'));
      await page.click('[role=dialog] button.danger');
      await waitFor('the room to be gone', async () => (await page.eval(`document.querySelector('tr[data-room="e2e-cosmic"]') === null`)), { timeoutMs: 20000 });
    });
    await t.test('the Tests screen runs a latency suite on the real server, plots it as it goes and saves the report', async () => {
      const runState = () => page.eval(`document.querySelector('[data-testid=stream-run]')?.dataset.state ?? null`);
      await page.click('nav a[data-section=tests]');
      await waitFor('the server line', async () => (await page.text('[data-testid=stream-server]')) === `ws://127.0.0.1:${port}`);
      await page.click('button[data-suite=latency]');
      await page.fill('input[name=packets]', '0');
      await page.click('[data-testid=stream-start]');
      const complaint = await waitFor('the form to name the wrong field', () => page.text('[data-testid=stream-form-error]'));
      assert.match(complaint, /Packets must be a whole number from 1/);
      assert.equal(await runState(), null, 'nothing ran');
      await page.fill('input[name=packets]', '10');
      await page.fill('input[name=room]', 'e2e-stream');
      await page.click('[data-testid=stream-start]');
      await waitFor('the run to finish', async () => (await runState()) === 'finished', { timeoutMs: 60000 });
      // The plot was drawn from the live events: one point per packet, one per marker heard.
      const points = Number(await page.eval(`document.querySelector('[data-testid=latency-plot]').dataset.points`));
      assert.ok(points >= 10, `${points} points on the plot`);
      assert.equal(await page.text('[data-testid=stream-loss]'), '0.00 %');
      assert.match(await page.text('[data-testid=stream-log]'), /CONNECTION.*connected: greenroom-receiver-0 in room e2e-stream/s);
      // The figures and the plot's bands come from Rust: computed percentiles, the catalogue's bands.
      assert.match(await page.text('[data-testid=stream-data-p95]'), /^\d+(\.\d)? \/ \d+(\.\d)? ms$/);
      assert.match(await page.text('[data-testid=latency-bands]'), /excellent < 100 ms/);
      const saved = await page.text('[data-testid=stream-saved]');
      const dir = path.join(ctx.home, 'reports', 'stream-test');
      const files = readdirSync(dir).filter((f) => f.endsWith('-latency.json'));
      assert.equal(files.length, 1, `reports in ${dir}: ${files}`);
      assert.ok(saved.includes(files[0]), `${saved} names ${files[0]}`);
      const report = JSON.parse(readFileSync(path.join(dir, files[0]), 'utf8'));
      assert.equal(report.schema, 'greenroom.stream-test/1');
      assert.equal(report.packets_received, 10);
      assert.equal(report.room, 'e2e-stream');
      assert.ok(!JSON.stringify(report).includes('"secret"'), 'the report never holds the secret');
      await page.eval(`document.querySelector('[data-testid=stream-run]').scrollIntoView()`);
      await page.screenshot('tests-stream');
      await page.click(`tr[data-report="${files[0]}"] button`);
      await waitFor('the saved report to open', async () => (await runState()) === 'opened');
      assert.equal(Number(await page.eval(`document.querySelector('[data-testid=latency-plot]').dataset.points`)), report.samples.length);

      // Behind a firewall that drops UDP, the same suite falls back to ICE over TCP.
      await page.fill('input[name=packets]', '3');
      await page.click('input[name=blockUdp]');
      await page.eval(`document.querySelector('form').scrollIntoView()`);
      await page.screenshot('tests-form');
      await page.click('[data-testid=stream-start]');
      await waitFor('the run over TCP to finish', async () => (await runState()) === 'finished' && (await page.text('[data-testid=stream-run] h2'))?.includes('Run 2'), { timeoutMs: 60000 });
      assert.equal(await page.text('[data-testid=stream-transport]'), 'tcp');
      assert.equal(await page.text('[data-testid=stream-loss]'), '0.00 %');
      assert.match(await page.text('[data-testid=stream-log]'), /connected: greenroom-sender-0 in room e2e-stream over tcp/);
      await page.screenshot('tests-stream-tcp');
    });
  } finally {
    // Leave the screen before its server goes: it polls every 2 s, and a poll that lands
    // after the server stopped is (rightly) answered 503, which the browser logs as an error.
    try {
      await page.click('nav a[data-section=settings]');
      await waitFor('the Rooms screen to unmount', async () => (await page.eval(`document.querySelector('[data-testid=livekit-url]') === null`)));
    } finally {
      await stop(server);
    }
  }
}
