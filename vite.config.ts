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
      manifest: {
        name: 'Elohim',
        short_name: 'Elohim',
        description: 'Store files by their hash in your browser and share them peer to peer.',
        id: '/',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        theme_color: '#1f3a8a',
        background_color: '#141416',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          {
            src: '/icons/maskable-512.png',
            sizes: '512x512',
            type: 'image/png',
            purpose: 'maskable',
          },
        ],
      },
      injectManifest: {
        rollupFormat: 'es',
        // wasm: Automerge's, so documents open offline too.
        globPatterns: ['**/*.{js,css,html,svg,png,ico,webmanifest,wasm}'],
        // The app bundle carries libp2p and Automerge; precache them whatever their size.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        // The worker is built apart from the app: no source map for it either.
        sourcemap: false,
      },
      devOptions: { enabled: true, type: 'module' },
    }),
  ],
  build: {
    target: 'es2022',
    // No source maps in dist/: the doorway serves dist/ to anyone (and refuses *.map anyway).
    sourcemap: false,
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
