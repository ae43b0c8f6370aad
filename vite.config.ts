import react from '@vitejs/plugin-react';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [react()],
  build: {
    target: 'es2022',
    sourcemap: true,
  },
  worker: { format: 'es' },
  test: {
    include: ['src/**/*.test.ts', 'doorway/**/*.test.ts', 'worker/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
    // Node 20 validates relaxed SIMD only behind this flag; Chromium does by default. With it
    // the unit tests cover all three Reed-Solomon kernels.
    execArgv: ['--experimental-wasm-relaxed-simd'],
    // libp2p needs Promise.withResolvers, which Node 20 lacks.
    setupFiles: ['doorway/polyfills.ts'],
  },
});
