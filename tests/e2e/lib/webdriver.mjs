// A minimal W3C WebDriver client (fetch only): what the desktop suite needs from
// tauri-driver, and nothing else.
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

export class WebDriverSession {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async create(base, capabilities) {
    const value = await request(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } });
    return new WebDriverSession(base, value.sessionId);
  }

  cmd(method, path, body) {
    return request(this.base, method, `/session/${this.id}${path}`, body);
  }

  async find(css) {
    const value = await this.cmd('POST', '/element', { using: 'css selector', value: css });
    return value[ELEMENT];
  }

  execute(script, args = []) {
    return this.cmd('POST', '/execute/sync', { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd('GET', '/screenshot'), 'base64');
  }

  /** Presses keys with modifiers held, e.g. keys(['\uE00A'], '6') for Alt+6. */
  async keys(modifiers, key) {
    const down = modifiers.map((m) => ({ type: 'keyDown', value: m }));
    const up = modifiers.map((m) => ({ type: 'keyUp', value: m })).reverse();
    await this.cmd('POST', '/actions', {
      actions: [{ type: 'key', id: 'keyboard', actions: [...down, { type: 'keyDown', value: key }, { type: 'keyUp', value: key }, ...up] }],
    });
    await this.cmd('DELETE', '/actions');
  }

  async close() {
    await request(this.base, 'DELETE', `/session/${this.id}`).catch(() => {});
  }
}

async function request(base, method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await response.json().catch(() => ({}));
  if (!response.ok) {
    const v = json.value ?? {};
    throw new Error(`WebDriver ${method} ${path}: ${response.status} ${v.error ?? ''} ${v.message ?? JSON.stringify(json)}`);
  }
  return json.value;
}
