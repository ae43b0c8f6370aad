export { App } from './App.tsx';
export { answerContentRequests, registerServiceWorker } from './serviceWorker.ts';
export { peerServiceReady } from './usePeerNode.ts';
