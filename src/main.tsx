import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, answerContentRequests, peerServiceReady, registerServiceWorker } from './ui/index.ts';
import './ui/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks the #root element');
registerServiceWorker();
answerContentRequests(peerServiceReady);
createRoot(root).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
