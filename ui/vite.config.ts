import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';

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
      '/api': { target: 'http://127.0.0.1:7870', ws: true, changeOrigin: true },
    },
  },
  test: {
    include: ['src/**/*.test.ts'],
    environment: 'node',
  },
});
