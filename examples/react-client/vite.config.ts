/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app and proxies /ws to a QuickTalk server running
// beside it (`cargo run --release -p quicktalk-server` listens on :8080, or
// set QUICKTALK_SERVER=http://127.0.0.1:9000), so the default URL (same
// host, /ws) works in development as in production.
// (Read through globalThis: the app's type check has no Node types.)
const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env;
const server = env?.QUICKTALK_SERVER ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/ws': { target: server, ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
