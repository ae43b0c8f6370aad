import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      // Our own worker (worker/sw.ts): Workbox precaching plus the /content/ route.
      strategies: 'injectManifest',
      srcDir: 'worker',
      filename: 'sw.ts',
      injectRegister: false,
      manifest: false,
      injectManifest: {
        rollupFormat: 'es',
        globPatterns: ['**/*.{js,css,html,svg,png,ico,webmanifest}'],
        // The app bundle carries libp2p; precache it whatever its size.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
      },
      devOptions: { enabled: true, type: 'module' },
    }),
  ],
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
