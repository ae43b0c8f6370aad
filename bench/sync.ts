/**
 * The `sync` suite of `npm run bench`: document sync in Node over loopback (127.0.0.1), each
 * figure beside the same measurement through automerge-repo's own stack in the same run.
 *
 * - ours: Repos on real libp2p nodes (WebSockets + Noise + Yamux) with the sync layer the app
 *   runs: `Libp2pNetworkAdapter` (`/elohim/automerge/1.0.0`, which carries live edits) and
 *   `SyncService` (`/elohim/positions/1.0.0`: Local events, Announces, catch-up on connect) with
 *   its EventLog in fake-indexeddb; peer to peer, no server.
 * - baseline: automerge-repo's `WebSocketClientAdapter` in both peers, connected to a sync
 *   server Repo (`WebSocketServerAdapter` on a `ws` server, `sharePolicy` true, in memory),
 *   as automerge's sync-server runs it; every edit goes A → server → B.
 *
 * Each measurement runs in a fresh Node process (this file, `--phase`), all peers of it in
 * that one process: thousands of Automerge documents left behind by an earlier measurement
 * slow automerge-repo down several-fold (GC, wasm allocator), which would favour whichever
 * stack runs first.
 *
 * Figures:
 * - edit latency: A sets an item's title; time until B's handle emits the change holding it.
 *   Sequential, with a pause after each edit so that automerge-repo's 100 ms sync throttle
 *   (DocSynchronizer.syncDebounceRate, in both stacks and in the server) never delays one:
 *   this is the latency of one edit, not of a burst;
 * - first 1,000 docs: A (the server, for the baseline) holds 1,000 item metadata documents;
 *   from before B dials, until a fresh B has `repo.find`-ed every one (bounded concurrency,
 *   after its Repo sees the remote peer) and each holds its content;
 * - backfill: a fresh peer running only the SyncService catches up on 1,000 events of A's
 *   log (SyncRequest pages, then a DocRequest per document it lacks, applied and stored).
 */
// First: libp2p needs Promise.withResolvers, which Node 20 lacks.
import '../doorway/polyfills.ts';
import { spawn } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  type DocHandle,
  type DocumentId,
  Repo,
  type PeerId as RepoPeerId,
} from '@automerge/automerge-repo';
import {
  WebSocketClientAdapter,
  WebSocketServerAdapter,
} from '@automerge/automerge-repo-network-websocket';
import { WebSocketServer } from 'ws';
import { createItemMeta, type ItemMeta, setTitle } from '../src/sync/index.ts';
import { addrOf } from '../src/test-support/libp2p.ts';
import type { Metric } from './metrics.ts';

export interface SyncBenchOptions {
  /** Progress lines (stderr), or nothing. */
  log: (line: string) => void;
  /** Measured edits (after `warmupEdits`). Default 200. */
  edits?: number;
  warmupEdits?: number;
  /** Pause after B sees an edit, before the next (past the 100 ms sync throttle). Default 150 ms. */
  pauseMs?: number;
  /** Documents a fresh peer fetches. Default 1,000. */
  docs?: number;
  /** `repo.find`s in flight at once. Default 64. */
  concurrency?: number;
}

type PhaseOptions = Required<Omit<SyncBenchOptions, 'log'>>;

const EDIT_TIMEOUT_MS = 10_000;
const PHASE_TIMEOUT_MS = 120_000;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until true; throws after `timeoutMs`. */
async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = PHASE_TIMEOUT_MS,
  everyMs = 20,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`sync bench: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

const itemTitle = (i: number) => `item ${i}`;
const hashOf = (i: number) => `sha256-${i.toString(16).padStart(64, '0')}`;

// ---------------------------------------------------------------------------------------------
// The baseline: automerge-repo's WebSocket adapters and a sync server

interface SyncServer {
  url: string;
  repo: Repo;
  stop(): Promise<void>;
}

/** A relay Repo behind a `ws` server on 127.0.0.1, as automerge's sync-server sets it up. */
async function startSyncServer(): Promise<SyncServer> {
  const http = createServer();
  const wss = new WebSocketServer({ noServer: true });
  http.on('upgrade', (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const repo = new Repo({
    // (isomorphic-ws's types need @types/ws, which the project does not install.)
    network: [new WebSocketServerAdapter(wss as never)],
    peerId: `sync-server-${Date.now()}` as RepoPeerId,
    sharePolicy: async () => true,
  });
  return {
    url: `ws://127.0.0.1:${port}`,
    repo,
    async stop() {
      await repo.shutdown(); // terminates the sockets
      await new Promise<void>((resolve) => wss.close(() => resolve())); // stops the keep-alive
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

let clients = 0;
function wsClient(url: string, name: string): Repo {
  return new Repo({
    network: [new WebSocketClientAdapter(url, 1_000)],
    peerId: `${name}-ws-${++clients}` as RepoPeerId,
    sharePolicy: async () => true,
  });
}

// ---------------------------------------------------------------------------------------------
// Measurements

/** Sequential edits of `from`'s title; ms until `to` emits each. */
async function editLatencies(
  from: DocHandle<ItemMeta>,
  to: DocHandle<ItemMeta>,
  count: number,
  pauseMs: number,
  label: string,
): Promise<{ times: number[]; failures: number }> {
  const times: number[] = [];
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const expected = `${label} edit ${i}`;
    let onChange: (p: { doc: ItemMeta }) => void = () => {};
    let timer: ReturnType<typeof setTimeout> | undefined;
    const seen = new Promise<number>((resolve, reject) => {
      onChange = ({ doc }) => {
        if (doc.title === expected) resolve(performance.now());
      };
      to.on('change', onChange);
      timer = setTimeout(() => reject(new Error('timeout')), EDIT_TIMEOUT_MS);
    });
    const start = performance.now();
    setTitle(from, expected);
    try {
      times.push((await seen) - start);
    } catch {
      failures++;
    } finally {
      clearTimeout(timer);
      to.off('change', onChange);
    }
    await sleep(pauseMs);
  }
  return { times, failures };
}

/** `repo.find`s every document (at most `concurrency` at once) until each holds its title. */
async function findAll(
  repo: Repo,
  docs: readonly { id: DocumentId; title: string }[],
  concurrency: number,
  signal: AbortSignal,
): Promise<{ ready: number; failures: string[]; retries: number }> {
  let next = 0;
  let ready = 0;
  let retries = 0;
  const failures: string[] = [];
  setMaxListeners(0, signal); // one deadline for every find in flight
  const worker = async () => {
    while (next < docs.length && !signal.aborted) {
      const doc = docs[next++] as { id: DocumentId; title: string };
      try {
        // A find that runs before the remote is known can end "unavailable": ask again.
        let handle: DocHandle<ItemMeta> | undefined;
        while (!handle) {
          try {
            handle = await repo.find<ItemMeta>(doc.id, { signal });
          } catch (e) {
            if (signal.aborted) throw e;
            retries++;
            await sleep(50);
          }
        }
        const h = handle;
        await until(() => h.doc().title === doc.title, `${doc.id}'s content`, 30_000, 10);
        ready++;
      } catch (e) {
        failures.push(`${doc.id}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ready, failures, retries };
}

/** What one phase reports (its child prints it as the last line of stdout). */
interface EditResult {
  times: number[];
  failures: number;
}
/** CPU time of this process (both peers, and the server for the baseline), ms. */
const cpuMs = (since?: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
};

interface DocsResult {
  seconds: number;
  cpuMs: number;
  ready: number;
  retries: number;
  failures: string[];
}
interface BackfillResult {
  ms: number;
  cpuMs: number;
  events: number;
  docs: number;
  error: string;
}

const PHASES = ['edit-ours', 'edit-theirs', 'docs-ours', 'docs-theirs', 'backfill-ours'] as const;
type Phase = (typeof PHASES)[number];

const fmt = (n: number) => `${n.toFixed(1)} ms`;

/** The libp2p helpers, with fake-indexeddb's globals for the EventLog (phases only). */
async function ourStack() {
  // A variable specifier: the `auto` entry point has no type declarations.
  const fakeIndexedDb = 'fake-indexeddb/auto';
  await import(fakeIndexedDb);
  return import('../src/sync/test-support.ts');
}

const APP = { adapter: true, service: true } as const;

async function runPhase(phase: Phase, o: PhaseOptions, log: (l: string) => void): Promise<unknown> {
  const cleanup: (() => Promise<void>)[] = [];
  const later = (f: () => Promise<void>) => cleanup.unshift(f);
  try {
    switch (phase) {
      case 'edit-ours': {
        const { connect, testPeer } = await ourStack();
        const a = await testPeer('A', APP);
        later(() => a.stop());
        const b = await testPeer('B', APP);
        later(() => b.stop());
        await connect(b, a);
        await until(() => a.repo.peers.length === 1 && b.repo.peers.length === 1, 'repo peers');
        const meta = createItemMeta(a.repo, { hash: hashOf(0), title: 'start' }, a.service);
        const bMeta = await b.repo.find<ItemMeta>(meta.url, {
          signal: AbortSignal.timeout(PHASE_TIMEOUT_MS),
        });
        await until(() => bMeta.doc().title === 'start', 'B to hold the document');
        await editLatencies(meta, bMeta, o.warmupEdits, o.pauseMs, 'warm-up');
        const r = await editLatencies(meta, bMeta, o.edits, o.pauseMs, 'ours');
        log(
          `sync:   B stored ${b.activity.length} events; errors reported: ` +
            `A ${a.errors.length}, B ${b.errors.length}`,
        );
        return r satisfies EditResult;
      }
      case 'edit-theirs': {
        const server = await startSyncServer();
        later(() => server.stop());
        const a = wsClient(server.url, 'A');
        later(() => a.shutdown());
        const b = wsClient(server.url, 'B');
        later(() => b.shutdown());
        const meta = createItemMeta(a, { hash: hashOf(0), title: 'start' });
        await until(() => server.repo.handles[meta.documentId]?.isReady() === true, 'the server');
        const bMeta = await b.find<ItemMeta>(meta.url, {
          signal: AbortSignal.timeout(PHASE_TIMEOUT_MS),
        });
        await until(() => bMeta.doc().title === 'start', 'B to hold the document');
        await editLatencies(meta, bMeta, o.warmupEdits, o.pauseMs, 'warm-up');
        return (await editLatencies(
          meta,
          bMeta,
          o.edits,
          o.pauseMs,
          'theirs',
        )) satisfies EditResult;
      }
      case 'docs-ours':
      case 'backfill-ours': {
        const { connect, testPeer } = await ourStack();
        const a = await testPeer('A', APP);
        later(() => a.stop());
        const docs = createDocs(a.repo, o.docs, a.service);
        await until(async () => (await a.log.localHead()) === o.docs, `A to log ${o.docs} events`);
        if (phase === 'backfill-ours') {
          const c = await testPeer('C', { service: { catchUpOnConnect: false } });
          later(() => c.stop());
          await connect(c, a);
          const start = performance.now();
          const cpu = process.cpuUsage();
          let events = 0;
          let error = '';
          try {
            events =
              (await c.service?.catchUp(a.node.peerId, {
                signal: AbortSignal.timeout(PHASE_TIMEOUT_MS),
              })) ?? 0;
          } catch (e) {
            error = e instanceof Error ? e.message : String(e);
          }
          const ms = performance.now() - start;
          const held = docs.filter(
            (d) =>
              (c.repo.handles[d.id] as DocHandle<ItemMeta> | undefined)?.doc()?.title === d.title,
          ).length;
          return { ms, cpuMs: cpuMs(cpu), events, docs: held, error } satisfies BackfillResult;
        }
        const b = await testPeer('B', APP);
        later(() => b.stop());
        const start = performance.now();
        const cpu = process.cpuUsage();
        await b.node.dial(addrOf(a.node));
        await until(() => b.repo.peers.length > 0, 'B’s Repo to see A', PHASE_TIMEOUT_MS, 2);
        const found = await findAll(
          b.repo,
          docs,
          o.concurrency,
          AbortSignal.timeout(PHASE_TIMEOUT_MS),
        );
        const seconds = (performance.now() - start) / 1000;
        log(`sync:   B stored ${b.activity.length} events (catch-up on connect, alongside)`);
        return { seconds, cpuMs: cpuMs(cpu), ...found } satisfies DocsResult;
      }
      case 'docs-theirs': {
        const server = await startSyncServer();
        later(() => server.stop());
        const a = wsClient(server.url, 'A');
        const docs = createDocs(a, o.docs);
        await until(
          () =>
            docs.every((d) => {
              const h = server.repo.handles[d.id] as DocHandle<ItemMeta> | undefined;
              return h?.isReady() === true && h.doc().title === d.title;
            }),
          'the server to hold every document',
          PHASE_TIMEOUT_MS,
          100,
        );
        await a.shutdown();
        const start = performance.now();
        const cpu = process.cpuUsage();
        const b = wsClient(server.url, 'B');
        later(() => b.shutdown());
        // (find waits for the adapter: ready once the server answered the join.)
        const found = await findAll(b, docs, o.concurrency, AbortSignal.timeout(PHASE_TIMEOUT_MS));
        return {
          seconds: (performance.now() - start) / 1000,
          cpuMs: cpuMs(cpu),
          ...found,
        } satisfies DocsResult;
      }
    }
  } finally {
    for (const f of cleanup) await f().catch(() => {});
  }
}

function createDocs(
  repo: Repo,
  count: number,
  tracker?: { track<T>(h: DocHandle<T>): void },
): { id: DocumentId; title: string }[] {
  return Array.from({ length: count }, (_, i) => {
    const h = createItemMeta(repo, { hash: hashOf(i), title: itemTitle(i) }, tracker);
    return { id: h.documentId, title: itemTitle(i) };
  });
}

const PHASE_PROCESS_TIMEOUT_MS = 4 * PHASE_TIMEOUT_MS;

/** Runs one phase in a fresh Node process (this file with --phase); its stderr goes to `log`. */
function phaseProcess(phase: Phase, o: PhaseOptions, log: (l: string) => void): Promise<unknown> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', self, `--phase=${phase}`, JSON.stringify(o)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    const lines = err.split('\n');
    err = lines.pop() ?? '';
    for (const line of lines) if (line && !line.includes('MaxListeners')) log(line);
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), PHASE_PROCESS_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (err) log(err);
      const last = out.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last) resolve(JSON.parse(last));
      else reject(new Error(`sync bench phase ${phase} ended with ${signal ?? `code ${code}`}`));
    });
  });
}

export async function syncSuite(options: SyncBenchOptions): Promise<Metric[]> {
  const { log } = options;
  const o: PhaseOptions = {
    edits: options.edits ?? 200,
    warmupEdits: options.warmupEdits ?? 10,
    pauseMs: options.pauseMs ?? 150,
    docs: options.docs ?? 1_000,
    concurrency: options.concurrency ?? 64,
  };
  const [load] = loadavg();
  if ((load ?? 0) > availableParallelism() / 2) {
    log(
      `sync: load average ${load?.toFixed(1)} on ${availableParallelism()} cores: ` +
        'both peers of each measurement share one process and these cores; figures will be noisy',
    );
  }

  log(
    `sync: edit latency, ours (libp2p, adapter + SyncService): ${o.warmupEdits} + ${o.edits} edits…`,
  );
  const ours = (await phaseProcess('edit-ours', o, log)) as EditResult;
  const oursTimes = [...ours.times].sort((x, y) => x - y);
  log(
    `sync:   p50 ${fmt(percentile(oursTimes, 0.5))}, p95 ${fmt(percentile(oursTimes, 0.95))}, ` +
      `max ${fmt(oursTimes.at(-1) ?? Number.NaN)}, ${ours.failures} not seen`,
  );
  log(
    `sync: edit latency, automerge-repo WebSocket + sync server: ${o.warmupEdits} + ${o.edits} edits…`,
  );
  const theirs = (await phaseProcess('edit-theirs', o, log)) as EditResult;
  const theirsTimes = [...theirs.times].sort((x, y) => x - y);
  log(
    `sync:   p50 ${fmt(percentile(theirsTimes, 0.5))}, p95 ${fmt(percentile(theirsTimes, 0.95))}, ` +
      `max ${fmt(theirsTimes.at(-1) ?? Number.NaN)}, ${theirs.failures} not seen`,
  );

  log(`sync: a fresh B (adapter + SyncService) finds A's ${o.docs} item documents…`);
  const docsOurs = (await phaseProcess('docs-ours', o, log)) as DocsResult;
  const summary = (r: DocsResult) =>
    `sync:   ${r.ready} ready in ${r.seconds.toFixed(2)} s (CPU ${(r.cpuMs / 1000).toFixed(2)} s), ` +
    `${r.retries} finds retried` +
    (r.failures.length ? `; failed: ${r.failures.slice(0, 3).join('; ')}` : '');
  log(summary(docsOurs));
  log(`sync: a fresh B (WebSocketClientAdapter) finds the sync server's ${o.docs} item documents…`);
  const docsTheirs = (await phaseProcess('docs-theirs', o, log)) as DocsResult;
  log(summary(docsTheirs));

  log(`sync: a fresh C (SyncService only) backfills ${o.docs} events from A…`);
  const backfill = (await phaseProcess('backfill-ours', o, log)) as BackfillResult;
  log(
    `sync:   ${backfill.events} events stored, ${backfill.docs} documents applied, in ` +
      `${Math.round(backfill.ms)} ms (CPU ${Math.round(backfill.cpuMs)} ms)${backfill.error ? `; failed: ${backfill.error}` : ''}`,
  );

  const where = 'in-process Node (a fresh process per measurement), 127.0.0.1';
  const editNote = (n: number, lost: number) =>
    `${n} sequential title edits (after ${o.warmupEdits} warm-up), ${o.pauseMs} ms apart; ` +
    `A change() → B handle 'change'${lost > 0 ? `; ${lost} not seen within 10 s` : ''}`;
  const incomplete = (r: DocsResult) =>
    r.ready < o.docs ? `; ONLY ${r.ready} of ${o.docs} ready` : '';
  return [
    {
      metric: 'sync_edit_p50_ms',
      value: percentile(oursTimes, 0.5),
      unit: 'ms',
      target: '<= 100',
      note: `ours (libp2p ws, adapter + SyncService), ${where}: ${editNote(oursTimes.length, ours.failures)}`,
    },
    {
      metric: 'sync_edit_p95_ms',
      value: percentile(oursTimes, 0.95),
      unit: 'ms',
      note: `ours; max ${fmt(oursTimes.at(-1) ?? Number.NaN)}`,
    },
    {
      metric: 'automerge_ws_edit_p50_ms',
      value: percentile(theirsTimes, 0.5),
      unit: 'ms',
      note: `automerge-repo WebSocket adapters, A → sync server → B, same: ${editNote(theirsTimes.length, theirs.failures)}`,
    },
    {
      metric: 'automerge_ws_edit_p95_ms',
      value: percentile(theirsTimes, 0.95),
      unit: 'ms',
      note: `baseline; max ${fmt(theirsTimes.at(-1) ?? Number.NaN)}`,
    },
    {
      metric: 'sync_edit_p50_ratio',
      value: percentile(oursTimes, 0.5) / percentile(theirsTimes, 0.5),
      unit: 'x',
      note: 'ours ÷ baseline p50 (lower is better)',
    },
    {
      metric: 'sync_edit_p95_ratio',
      value: percentile(oursTimes, 0.95) / percentile(theirsTimes, 0.95),
      unit: 'x',
      note: 'ours ÷ baseline p95 (lower is better)',
    },
    {
      metric: 'sync_first_1000_docs_s',
      value: docsOurs.seconds,
      unit: 's',
      target: '<= 10',
      note:
        `ours, ${where}: fresh B dials A, repo.find × ${o.docs} item metadata docs, ` +
        `${o.concurrency} in flight, until each holds its title${incomplete(docsOurs)}`,
    },
    {
      metric: 'automerge_ws_first_1000_docs_s',
      value: docsTheirs.seconds,
      unit: 's',
      note: `baseline: fresh B's WebSocketClientAdapter to the sync server holding them, same finds${incomplete(docsTheirs)}`,
    },
    {
      metric: 'sync_first_1000_docs_ratio',
      value: docsOurs.seconds / docsTheirs.seconds,
      unit: 'x',
      note: 'ours ÷ baseline (lower is better)',
    },
    {
      metric: 'sync_first_1000_docs_cpu_s',
      value: docsOurs.cpuMs / 1000,
      unit: 's',
      note: 'CPU of the measuring process (A and B) over the same window: holds better than wall time on a loaded machine',
    },
    {
      metric: 'automerge_ws_first_1000_docs_cpu_s',
      value: docsTheirs.cpuMs / 1000,
      unit: 's',
      note: 'CPU of the measuring process (sync server and B) over the same window',
    },
    {
      metric: 'sync_first_1000_docs_cpu_ratio',
      value: docsOurs.cpuMs / docsTheirs.cpuMs,
      unit: 'x',
      note: 'ours ÷ baseline CPU (lower is better)',
    },
    {
      metric: 'sync_backfill_1000_events_ms',
      value: backfill.ms,
      unit: 'ms',
      note:
        `SyncService.catchUp of a fresh peer (no automerge adapter): SyncRequest pages of 100 + ` +
        `a DocRequest per doc, applied and stored; ${backfill.events} events, ${backfill.docs} docs, ` +
        `CPU ${Math.round(backfill.cpuMs)} ms` +
        (backfill.error ? `; FAILED: ${backfill.error}` : ''),
    },
  ];
}

// `node --import tsx bench/sync.ts --phase=NAME OPTIONS_JSON`: one measurement, its result as
// the last line of stdout (syncSuite runs these).
const phaseArg = process.argv.find((a) => a.startsWith('--phase='))?.slice('--phase='.length);
if (phaseArg !== undefined && process.argv[1] === fileURLToPath(import.meta.url)) {
  const phase = phaseArg as Phase;
  if (!PHASES.includes(phase)) throw new Error(`unknown sync bench phase ${phaseArg}`);
  const opts = JSON.parse(process.argv[process.argv.indexOf(`--phase=${phaseArg}`) + 1] ?? '{}');
  runPhase(phase, opts as PhaseOptions, (l) => console.error(l)).then(
    (result) => {
      console.log(JSON.stringify(result));
      process.exit(0);
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
