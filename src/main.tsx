import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { applyStagedRestore, onRestoreAnnounced } from './backup/index.ts';
import { App, answerContentRequests, peerServiceReady, registerServiceWorker } from './ui/index.ts';
import { errorMessage } from './wire/index.ts';
import './ui/styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks the #root element');
// A restore staged in any tab: every tab reloads, and each start applies it before the
// identity key is read (src/backup).
onRestoreAnnounced(() => location.reload());
const start = () => {
  registerServiceWorker();
  answerContentRequests(peerServiceReady);
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
};
applyStagedRestore().then(start, (error: unknown) => {
  // The stage stays, with the identity key not replaced yet: starting now could run the old
  // identity beside parts of the restored person, so nothing starts until it applies.
  root.textContent = `A restore from a backup could not be finished (${errorMessage(error)}). Reload the page to try again.`;
  root.setAttribute('role', 'alert');
});
