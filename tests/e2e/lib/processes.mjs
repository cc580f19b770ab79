// Real child processes for the end-to-end tests: started, watched, and always stopped.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const TARGET = process.env.CARGO_TARGET_DIR ?? path.join(REPO, 'target');
export const SCREENSHOTS = path.join(REPO, 'tests/e2e/screenshots');
mkdirSync(SCREENSHOTS, { recursive: true });

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** A temporary Greenroom home and a temporary folder to use as a workspace. */
export function tempDirs() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'greenroom-e2e-'));
  const home = path.join(root, 'home');
  const workspace = path.join(root, 'eloquence');
  mkdirSync(home);
  mkdirSync(workspace);
  return { root, home, workspace, cleanup: () => rmSync(root, { recursive: true, force: true }) };
}

/** Polls `probe` until it returns a truthy value; fails with `what` and the last value. */
export async function waitFor(what, probe, { timeoutMs = 15000, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Starts a process; its output is kept for error messages. */
export function start(command, args, { env = {}, stdio } = {}) {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: stdio ?? ['ignore', 'pipe', 'pipe'],
  });
  child.output = '';
  child.stdout?.on('data', (d) => (child.output += d));
  child.stderr?.on('data', (d) => (child.output += d));
  children.add(child);
  child.on('exit', () => children.delete(child));
  child.on('error', (e) => (child.output += `\n[spawn error] ${e.message}`));
  return child;
}

/** Stops a process: SIGTERM, then SIGKILL after `graceMs`. */
export async function stop(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function portAccepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export const FIXTURE = path.join(TARGET, 'debug', process.platform === 'win32' ? 'fixture-service.exe' : 'fixture-service');

/** Runs the real `greenroom` CLI on `home`; returns parsed JSON when asked. */
export function greenroom(home, args, { json = false } = {}) {
  const bin = path.join(TARGET, 'debug', process.platform === 'win32' ? 'greenroom.exe' : 'greenroom');
  const out = execFileSync(bin, args, { env: { ...process.env, GREENROOM_HOME: home }, encoding: 'utf8' });
  return json ? JSON.parse(out) : out;
}

/** An Xvfb display of its own (Xvfb picks a free number and tells us through fd 3). */
export async function startXvfb() {
  const xvfb = start('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
  });
  let number = '';
  xvfb.stdio[3].on('data', (d) => (number += d));
  await waitFor('Xvfb to report its display', () => /\d+\n/.test(number) || xvfb.exitCode !== null);
  if (xvfb.exitCode !== null) throw new Error(`Xvfb exited: ${xvfb.output}`);
  return { process: xvfb, display: `:${number.trim()}` };
}
