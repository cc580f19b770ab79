// One page interface over two drivers, so that both suites run the very same checks.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { SCREENSHOTS } from './processes.mjs';

const READ_TEXT = 'const e = document.querySelector(arguments[0]); return e ? e.textContent : null;';
const READ_VALUE = 'const e = document.querySelector(arguments[0]); return e ? e.value : null;';
const EMPTY_INPUT =
  'const e = document.querySelector(arguments[0]); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true}));';

/** Playwright (Chromium) page. */
export class PlaywrightPage {
  constructor(page, name) {
    this.page = page;
    this.name = name;
  }
  click(css) {
    return this.page.locator(css).first().click();
  }
  fill(css, value) {
    return this.page.locator(css).first().fill(value);
  }
  text(css) {
    return this.page.evaluate((c) => document.querySelector(c)?.textContent ?? null, css);
  }
  value(css) {
    return this.page.evaluate((c) => document.querySelector(c)?.value ?? null, css);
  }
  eval(expression) {
    return this.page.evaluate(expression);
  }
  pressAlt(key) {
    return this.page.keyboard.press(`Alt+${key}`);
  }
  reload() {
    return this.page.reload();
  }
  async screenshot(name) {
    const file = path.join(SCREENSHOTS, `${this.name}-${name}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }
}

/** WebDriver (tauri-driver → WebKitWebDriver → the real app) page. */
export class WebDriverPage {
  constructor(session, name, screenshotDisplay) {
    this.session = session;
    this.name = name;
    this.display = screenshotDisplay;
  }
  async click(css) {
    await this.session.cmd('POST', `/element/${await this.session.find(css)}/click`, {});
  }
  async fill(css, value) {
    await this.session.execute(EMPTY_INPUT, [css]);
    if (value) await this.session.cmd('POST', `/element/${await this.session.find(css)}/value`, { text: value });
  }
  text(css) {
    return this.session.execute(READ_TEXT, [css]);
  }
  value(css) {
    return this.session.execute(READ_VALUE, [css]);
  }
  eval(expression) {
    return this.session.execute(`return (${expression});`);
  }
  pressAlt(key) {
    return this.session.keys(['\uE00A'], key);
  }
  reload() {
    return this.session.execute('window.location.reload();');
  }
  async screenshot(name) {
    const file = path.join(SCREENSHOTS, `${this.name}-${name}.png`);
    writeFileSync(file, await this.session.screenshot());
    return file;
  }
}
