/**
 * `npm start`: builds the app with its output held back (shown only if the build fails), then
 * runs the doorway logging errors only, so the last lines a person sees are the address to
 * open. Arguments are the doorway's (`npm start -- --port 0`); `--log-level info` (or
 * ELOHIM_LOG_LEVEL) brings its full log back. `npm run build` and `npm run doorway` stay as
 * they were, for whoever wants every line.
 */
import { spawn } from 'node:child_process';

/** The build prints a few hundred lines at most; a runaway one is cut to its end. */
const MAX_KEPT = 256 * 1024;

function build() {
  return new Promise((resolve) => {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const child = spawn(npm, ['run', '--silent', 'build'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk) => {
      output = (output + chunk.toString()).slice(-MAX_KEPT);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (error) => resolve({ code: 1, output: `${output}\n${error.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

process.stdout.write('Building the app…\n');
const built = await build();
if (built.code !== 0) {
  process.stderr.write(built.output);
  process.stderr.write(`\nThe build failed (exit code ${built.code}): see above.\n`);
  process.exit(built.code);
}

const args = process.argv.slice(2);
const env = { ...process.env };
if (!env.ELOHIM_LOG_LEVEL && !args.some((a) => a.startsWith('--log-level'))) {
  env.ELOHIM_LOG_LEVEL = 'silent';
}
// The doorway's libp2p node hangs more than ten abort listeners on some long-lived signals:
// Node's leak warning about that is noise to a person starting the app (`npm run doorway`
// still shows it).
const node = ['--disable-warning=MaxListenersExceededWarning', '--import', 'tsx'];
const doorway = spawn(process.execPath, [...node, 'doorway/main.ts', ...args], {
  stdio: 'inherit',
  env,
});
// Ctrl+C reaches the doorway too (same process group): it closes cleanly, then we exit with it.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => doorway.kill('SIGTERM'));
doorway.on('close', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
