/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the app and proxies /ws to a QuickTalk server running
// beside it (`cargo run --release -p quicktalk-server` listens on :8080), so
// the default URL (same host, /ws) works in development as in production.
export default defineConfig({
  plugins: [react()],
  server: {
    proxy: {
      '/ws': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
