export { App } from './App.tsx';
export { registerServiceWorker } from './serviceWorker.ts';
