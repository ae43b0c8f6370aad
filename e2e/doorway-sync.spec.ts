/**
 * The doorway speaks the Rust node's sync (issue 19): a commons item a browser stores is kept on
 * the doorway with its description, and a client that knows only the Rust message set reads
 * that description from the doorway over TCP (ListDocuments, GetHeads, SyncChanges), the title
 * the person gave it included, also after the browser is gone and the doorway restarted.
 */
// First: libp2p needs Promise.withResolvers, which Node 20 lacks.
import '../doorway/polyfills.ts';
import { init, loadIncremental } from '@automerge/automerge';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import type { Libp2p } from '@libp2p/interface';
import { tcp } from '@libp2p/tcp';
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { APP_ID, type DocumentInfo, type ItemMeta, requestDocSync } from '../src/sync/index.ts';
import { expect, specFiles, test } from './fixtures.ts';
import { addFiles, item, openApp, openMeta } from './support/app.ts';
import { startRestartableDoorway } from './support/doorway-process.ts';
import { writeRandomFile } from './support/files.ts';

const MiB = 1024 * 1024;
const files = specFiles();
const TCP = /p2p listening on (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)\n/g;

/** The doorway's libp2p TCP address (what a Rust node dials), from its latest start's log. */
function tcpAddrOf(output: string): Multiaddr {
  const found = [...output.matchAll(TCP)].at(-1)?.[1];
  if (!found) throw new Error(`no TCP listen address in the doorway's log:\n${output}`);
  return multiaddr(found);
}

/** The item descriptions the doorway lists, each read back whole (SyncChanges from nothing). */
async function descriptionsAt(client: Libp2p, addr: Multiaddr) {
  const peer = addr.toString().split('/p2p/')[1] as string;
  const options = { maxFrameBytes: 8 * MiB, timeoutMs: 10_000 };
  await client.dial(addr);
  const list = await requestDocSync(
    client,
    peer,
    { type: 'ListDocuments', appId: APP_ID, prefix: null, offset: 0, limit: 1000 },
    options,
  );
  if (list.type !== 'DocumentList') throw new Error(`ListDocuments answered ${list.type}`);
  const read: { info: DocumentInfo; doc: ItemMeta }[] = [];
  for (const info of list.documents.filter((d) => d.docType === 'item-meta')) {
    const changes = await requestDocSync(
      client,
      peer,
      { type: 'SyncChanges', appId: APP_ID, docId: info.docId, haveHeads: [], bloomFilter: null },
      options,
    );
    if (changes.type !== 'Changes') throw new Error(`SyncChanges answered ${changes.type}`);
    let doc = init<ItemMeta>();
    for (const c of changes.changes) doc = loadIncremental(doc, c);
    read.push({ info, doc: { ...doc } });
  }
  return read;
}

test('a browser’s commons description is kept on the doorway and read from it over the Rust sync protocol, after a restart too', async ({
  openProfile,
}) => {
  test.setTimeout(240_000);
  const doorway = await startRestartableDoorway();
  const client = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: () => false },
  });
  try {
    const file = await writeRandomFile(files.dir, 'for-the-rust-node.bin', 2 * MiB);
    const profile = await openProfile();
    const a = await openApp(profile.context, doorway.url, { copies: 1, chunkedAbove: MiB });
    await a.getByTestId('ingest-reach').selectOption('commons');
    await addFiles(a, [file.path]);
    await expect(item(a, file.hash)).toBeVisible({ timeout: 60_000 });
    await expect(item(a, file.hash).getByTestId('replica-health')).toHaveAttribute(
      'data-doorway',
      'kept',
      { timeout: 60_000 },
    );
    // The person titles it: the change goes to the doorway as well.
    await openMeta(a, file.hash);
    await a.getByTestId('meta-title').fill('Read by a Rust node');
    await a.getByTestId('meta-save').click();

    const titled = async () => {
      const found = (await descriptionsAt(client, tcpAddrOf(doorway.output()))).find(
        (d) => d.doc.hash === file.hash,
      );
      return found?.doc.title === 'Read by a Rust node' ? found : undefined;
    };
    let seen: Awaited<ReturnType<typeof titled>>;
    await expect(async () => {
      seen = await titled();
      expect(seen).toBeDefined();
    }).toPass({ timeout: 60_000 });
    const heads = seen?.info.heads;
    expect(heads?.length).toBeGreaterThan(0);

    // The browser goes; the doorway restarts on its data directory: still there, unchanged.
    await profile.close();
    await doorway.stop();
    await doorway.start();
    const again = await titled();
    expect(again?.info.heads).toEqual(heads);
  } finally {
    await client.stop();
    await doorway.close();
  }
});
