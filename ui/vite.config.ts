/// <reference types="node" />
import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * The token of the `greenroom serve` on 7870, read from the file it writes (owner-only) in
 * Greenroom's home, at each request: the dev proxy sends it, so the page needs no cookie.
 */
function serveToken(): string | undefined {
  const home =
    process.env.GREENROOM_HOME ||
    (process.platform === 'win32'
      ? path.join(process.env.APPDATA ?? os.homedir(), 'Greenroom')
      : process.platform === 'darwin'
        ? path.join(os.homedir(), 'Library', 'Application Support', 'Greenroom')
        : path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'greenroom'));
  try {
    return JSON.parse(readFileSync(path.join(home, 'serve-7870.json'), 'utf8')).token;
  } catch {
    return undefined;
  }
}

// The same build serves the desktop app (embedded by Tauri) and `greenroom serve`.
export default defineConfig({
  plugins: [svelte()],
  // Relative asset URLs work under tauri://, http://ipc.localhost and http://127.0.0.1.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Keep the CSP strict: no inline scripts, no eval.
    modulePreload: { polyfill: false },
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    strictPort: true,
    // `npm run dev` against a running `greenroom serve`.
    proxy: {
      '/api': {
        target: 'http://127.0.0.1:7870',
        ws: true,
        changeOrigin: true,
        // The server checks Origin and Sec-Fetch-Site against its own address; through the
        // proxy they name the dev server, so they are dropped, and the token is added.
        configure: (proxy) => {
          const authorize = (request: { setHeader(n: string, v: string): void; removeHeader(n: string): void }) => {
            const token = serveToken();
            if (token) request.setHeader('authorization', `Bearer ${token}`);
            request.removeHeader('origin');
            request.removeHeader('sec-fetch-site');
          };
          proxy.on('proxyReq', authorize);
          proxy.on('proxyReqWs', authorize);
        },
      },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
