import type { Backend } from './backend';
import { HttpBackend } from './http';
import { isTauri, TauriBackend } from './tauri';

export type { Backend, ConnectionState } from './backend';
export { BackendError } from './backend';

/** The backend of this page: Tauri inside the desktop app, HTTP in a browser. */
export function createBackend(): Backend {
  if (isTauri()) return new TauriBackend();
  return new HttpBackend({
    fetch: window.fetch.bind(window),
    WebSocket: window.WebSocket,
    origin: window.location.origin,
    setTimeout: (fn, ms) => window.setTimeout(fn, ms),
  });
}
