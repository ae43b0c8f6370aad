import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [react()],
  build: {
    // Top-level await instantiates the Reed-Solomon WASM kernel before first use.
    target: 'es2022',
    sourcemap: true,
  },
  worker: { format: 'es' },
  test: {
    include: ['src/**/*.test.ts', 'doorway/**/*.test.ts', 'worker/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
  },
});
