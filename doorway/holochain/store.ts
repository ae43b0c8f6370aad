import type { KeyObject } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { encode } from '@msgpack/msgpack';
import Database from 'better-sqlite3';
import { ElohimError } from '../../src/wire/index.ts';
import { privateKeyFromSeed, publicKeyOf, signEd25519 } from './ed25519.ts';
import { makePrivateDir, makePrivateFile, restrictFiles } from './files.ts';
import { hashBytes, hashToB64, sameBytes } from './hash.ts';
import type { CellId } from './wire.ts';

/** The emulator's database, inside the doorway's data dir. */
export const DB_FILE = 'hc-emulator.sqlite';

/** The hApp's roles, as in the Rust project's `happ.yaml`. */
export const ROLES = ['lamad', 'infrastructure', 'imagodei'] as const;
export type RoleName = (typeof ROLES)[number];

/**
 * Each role has one fixed DNA hash. A real DNA hash is the hash of the DNA definition (wasm,
 * properties, network seed); the emulator has no wasm, so it hashes a name that says what it
 * is. Same on every emulator, so cell ids are stable across doorways and restarts.
 */
export const DNA_HASHES: Readonly<Record<RoleName, Uint8Array>> = Object.fromEntries(
  ROLES.map((role) => [
    role,
    hashBytes('dna', new TextEncoder().encode(`elohim-conductor-emulator/v1/${role}`)),
  ]),
) as Record<RoleName, Uint8Array>;

export function roleOfDna(dna: Uint8Array): RoleName | undefined {
  return ROLES.find((role) => sameBytes(DNA_HASHES[role], dna));
}

export interface AppRecord {
  installedAppId: string;
  agent: Uint8Array;
  /** Microseconds since the Unix epoch (Holochain `Timestamp`). */
  installedAt: number;
}

/** Who asked for a commit: the zome call's provenance, and its signature over sha512(bytes). */
export interface CallEvidence {
  provenance: Uint8Array;
  /** sha512 of the zome call bytes as received: the message the signature is over. */
  digest: Uint8Array;
  signature: Uint8Array;
}

export interface Committed {
  actionHash: Uint8Array;
  entryHash: Uint8Array;
  /** Microseconds since the Unix epoch. */
  timestamp: number;
  seq: number;
}

export type NonceVerdict = 'Fresh' | 'Duplicate' | 'Expired' | 'Future';

/** Holochain refuses zome calls whose `expires_at` lies further ahead than this (50 minutes). */
export const WITNESSABLE_EXPIRY_MICROS = 50 * 60 * 1_000_000;

const SCHEMA_VERSION = 6;

/** Version 1: everything up to cluster key grants. */
const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE apps (
  installed_app_id TEXT PRIMARY KEY,
  agent BLOB NOT NULL UNIQUE,
  installed_at INTEGER NOT NULL
);
CREATE TABLE app_tokens (
  token BLOB PRIMARY KEY,
  installed_app_id TEXT NOT NULL REFERENCES apps(installed_app_id),
  expires_at INTEGER NOT NULL
);
-- Every cell's source chain: one row per action, linked by prev_hash.
CREATE TABLE actions (
  hash BLOB PRIMARY KEY,
  dna BLOB NOT NULL,
  author BLOB NOT NULL,
  seq INTEGER NOT NULL,
  prev_hash BLOB,
  action_type TEXT NOT NULL,
  entry_type TEXT,
  entry_hash BLOB,
  entry BLOB,
  timestamp INTEGER NOT NULL,
  signature BLOB NOT NULL,
  call_provenance BLOB,
  call_digest BLOB,
  call_signature BLOB,
  UNIQUE (dna, author, seq)
);
CREATE TABLE cap_grants (
  dna BLOB NOT NULL,
  agent BLOB NOT NULL,
  assignee BLOB NOT NULL,
  secret BLOB NOT NULL,
  tag TEXT NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (dna, agent, assignee, secret)
);
CREATE TABLE nonces (
  provenance BLOB NOT NULL,
  nonce BLOB NOT NULL,
  expires INTEGER NOT NULL,
  PRIMARY KEY (provenance, nonce)
);
CREATE INDEX nonces_by_expiry ON nonces (expires);
CREATE TABLE content_servers (
  agent BLOB NOT NULL,
  content_hash TEXT NOT NULL,
  capability TEXT NOT NULL,
  endpoints TEXT NOT NULL,
  online INTEGER NOT NULL,
  priority INTEGER NOT NULL,
  region TEXT,
  updated_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (agent, content_hash)
);
-- find_publishers looks up by hash; this keeps it fast with many servers registered.
CREATE INDEX content_servers_by_hash ON content_servers (content_hash, online, priority DESC);
CREATE TABLE humans (
  agent BLOB PRIMARY KEY,
  display_name TEXT NOT NULL,
  peer_id TEXT NOT NULL UNIQUE,
  multiaddrs TEXT NOT NULL,
  profile_reach TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL
);
CREATE TABLE relationships (
  initiator BLOB NOT NULL,
  other_agent BLOB NOT NULL,
  relationship_type TEXT NOT NULL,
  reach TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (initiator, other_agent, relationship_type)
);
CREATE INDEX relationships_by_other ON relationships (other_agent);
CREATE TABLE doorways (
  id TEXT PRIMARY KEY,
  operator BLOB NOT NULL,
  url TEXT NOT NULL,
  capabilities_json TEXT NOT NULL,
  reach TEXT NOT NULL,
  region TEXT,
  bandwidth_mbps INTEGER,
  version TEXT NOT NULL,
  tier TEXT NOT NULL,
  registered_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL
);
`;

/**
 * Version 2: family cluster key grants (imagodei `grant_cluster_key`). One row per (cluster,
 * grantee); a cluster belongs to the agent that granted it first.
 */
const SCHEMA_V2 = `
CREATE TABLE cluster_key_grants (
  cluster TEXT NOT NULL,
  granter BLOB NOT NULL,
  grantee BLOB NOT NULL,
  context TEXT NOT NULL,
  version INTEGER NOT NULL,
  iv TEXT NOT NULL,
  wrapped_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (cluster, grantee)
);
CREATE INDEX cluster_key_grants_by_grantee ON cluster_key_grants (grantee);
CREATE INDEX cluster_key_grants_by_granter ON cluster_key_grants (granter);
`;

/**
 * Version 3: /hc/connect grants a key other than the session's agent only with the agent's
 * signature (http.ts). Grants made before, to any key a session named, cannot show one: revoked.
 */
const SCHEMA_V3 = `DELETE FROM cap_grants WHERE assignee <> agent;`;

/**
 * Version 4: app tokens issued through the admin interface may be single use, as a conductor's
 * (`issue_app_authentication_token`, `single_use` defaults to true there).
 */
const SCHEMA_V4 = `ALTER TABLE app_tokens ADD COLUMN single_use INTEGER NOT NULL DEFAULT 0;`;

/**
 * Version 5: social recovery (imagodei `set_recovery_guardians`, `release_recovery_share`).
 * One share per (owner, guardian), read by either; one release per (owner, guardian,
 * requester), read by the guardian or the requester.
 */
const SCHEMA_V5 = `
CREATE TABLE recovery_shares (
  owner BLOB NOT NULL,
  guardian BLOB NOT NULL,
  setup TEXT NOT NULL,
  threshold INTEGER NOT NULL,
  total INTEGER NOT NULL,
  iv TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (owner, guardian)
);
CREATE INDEX recovery_shares_by_guardian ON recovery_shares (guardian);
CREATE TABLE recovery_releases (
  owner BLOB NOT NULL,
  guardian BLOB NOT NULL,
  requester BLOB NOT NULL,
  setup TEXT NOT NULL,
  threshold INTEGER NOT NULL,
  iv TEXT NOT NULL,
  sealed TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  action_hash BLOB NOT NULL,
  PRIMARY KEY (owner, guardian, requester)
);
CREATE INDEX recovery_releases_by_requester ON recovery_releases (requester);
-- get_my_recovery_releases finds a guardian's releases of every owner: guardian is not the key's prefix.
CREATE INDEX recovery_releases_by_guardian ON recovery_releases (guardian);
`;

/**
 * Version 6: device certificates (imagodei `add_device`, `remove_device`). One row per device,
 * for good: the agent that certified it first, and when that agent removed it.
 */
const SCHEMA_V6 = `
CREATE TABLE devices (
  device BLOB PRIMARY KEY,
  agent BLOB NOT NULL,
  name TEXT NOT NULL,
  added_at INTEGER NOT NULL,
  signature TEXT NOT NULL,
  device_signature TEXT NOT NULL,
  removed_at INTEGER,
  action_hash BLOB NOT NULL
);
CREATE INDEX devices_by_agent ON devices (agent, added_at DESC);
`;

/** What brings a database at version `i + 1` from version `i` (index 0: an empty file). */
const MIGRATIONS = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5, SCHEMA_V6];

export class StoreError extends ElohimError.named('StoreError') {}

export function nowMicros(): number {
  return Date.now() * 1000;
}

/**
 * The emulator's persistent state: installed apps and their tokens, every cell's source chain,
 * capability grants, witnessed nonces, and the projections the zome functions query (the
 * emulator's stand-in for the DHT). SQLite in WAL mode.
 */
export class EmulatorStore {
  readonly db: Database.Database;
  /** The emulator signs every action with this key (it never holds agents' private keys). */
  private readonly signingKey: KeyObject;
  readonly signingPublicKey: Uint8Array;

  constructor(readonly file: string) {
    // SQLite gives the -wal and -shm files it creates the database file's mode.
    makePrivateFile(file);
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    restrictFiles(`${file}-wal`, `${file}-shm`);
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version < SCHEMA_VERSION) {
      // Older files are brought up to date in place: migrations add tables and columns.
      this.db.transaction(() => {
        for (const ddl of MIGRATIONS.slice(version)) this.db.exec(ddl);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    } else if (version !== SCHEMA_VERSION) {
      throw new StoreError(
        `${file} has schema version ${version}; this doorway knows ${SCHEMA_VERSION}. Use the doorway version that wrote it, or move the file away to start empty.`,
      );
    }
    this.signingKey = privateKeyFromSeed(
      this.metaBytes('emulator-signing-seed', () => randomBytes(32)),
    );
    this.signingPublicKey = publicKeyOf(this.signingKey);
  }

  /**
   * Opens `<dataDir>/hc-emulator.sqlite`, creating the folder and the schema when missing; the
   * folder is set to 0700, the database and its -wal and -shm files to 0600 (files.ts).
   */
  static open(dataDir: string): EmulatorStore {
    const dir = resolve(dataDir);
    makePrivateDir(dir);
    return new EmulatorStore(join(dir, DB_FILE));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement, prepared once per SQL text (zome calls run the same few often). */
  stmt(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private metaBytes(key: string, create: () => Uint8Array): Uint8Array {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: Buffer }
      | undefined;
    if (row) return new Uint8Array(row.value);
    const value = create();
    this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(key, value);
    return value;
  }

  // ---- apps and app tokens ----

  /** The agent's app, installing it (one cell per role, each with its genesis actions) if new. */
  installApp(agent: Uint8Array): AppRecord {
    const existing = this.appOfAgent(agent);
    if (existing) return existing;
    const app: AppRecord = {
      installedAppId: `elohim-${hashToB64(agent)}`,
      agent,
      installedAt: nowMicros(),
    };
    this.db.transaction(() => {
      this.stmt('INSERT INTO apps (installed_app_id, agent, installed_at) VALUES (?, ?, ?)').run(
        app.installedAppId,
        agent,
        app.installedAt,
      );
      for (const role of ROLES) {
        const cell: CellId = [DNA_HASHES[role], agent];
        // Holochain's genesis: the DNA action, the membrane proof, the agent key entry.
        this.append(cell, 'dna', null, undefined, undefined);
        this.append(cell, 'agent_validation_pkg', null, undefined, undefined);
        this.append(cell, 'create', 'AgentPubKey', agent, undefined);
      }
    })();
    return app;
  }

  appOfAgent(agent: Uint8Array): AppRecord | undefined {
    const row = this.stmt(
      'SELECT installed_app_id, agent, installed_at FROM apps WHERE agent = ?',
    ).get(agent) as AppRow | undefined;
    return row && toApp(row);
  }

  app(installedAppId: string): AppRecord | undefined {
    const row = this.stmt(
      'SELECT installed_app_id, agent, installed_at FROM apps WHERE installed_app_id = ?',
    ).get(installedAppId) as AppRow | undefined;
    return row && toApp(row);
  }

  /**
   * A token for one app's websocket, valid until it expires. Reusable until then (so the
   * client's transparent reconnect works) unless `singleUse`, as a conductor's admin interface
   * may issue them. Kept in the database so it survives restarts.
   */
  issueAppToken(installedAppId: string, ttlSeconds: number, singleUse = false): Uint8Array {
    const token = new Uint8Array(randomBytes(32));
    const now = Date.now();
    this.stmt('DELETE FROM app_tokens WHERE expires_at <= ?').run(now);
    this.stmt(
      'INSERT INTO app_tokens (token, installed_app_id, expires_at, single_use) VALUES (?, ?, ?, ?)',
    ).run(token, installedAppId, now + ttlSeconds * 1000, singleUse ? 1 : 0);
    return token;
  }

  /**
   * The app a token opens, or undefined when it is unknown or expired. A single-use token is
   * spent by this call.
   */
  appOfToken(token: Uint8Array): AppRecord | undefined {
    const row = this.stmt(
      'SELECT installed_app_id, single_use FROM app_tokens WHERE token = ? AND expires_at > ?',
    ).get(token, Date.now()) as { installed_app_id: string; single_use: number } | undefined;
    if (row?.single_use) this.stmt('DELETE FROM app_tokens WHERE token = ?').run(token);
    return row && this.app(row.installed_app_id);
  }

  /** Every installed app, oldest first (the admin interface's `list_apps`). */
  apps(): AppRecord[] {
    const rows = this.stmt(
      'SELECT installed_app_id, agent, installed_at FROM apps ORDER BY installed_at, installed_app_id',
    ).all() as AppRow[];
    return rows.map(toApp);
  }

  // ---- source chains ----

  /**
   * Appends an action (and its entry) to a cell's chain. Call inside a transaction together with
   * the projection it feeds, so a chain and its projections never disagree.
   */
  append(
    cell: CellId,
    actionType: 'dna' | 'agent_validation_pkg' | 'create' | 'update',
    entryType: string | null,
    entry: unknown,
    evidence: CallEvidence | undefined,
  ): Committed {
    const [dna, author] = cell;
    const head = this.stmt(
      'SELECT seq, hash, timestamp FROM actions WHERE dna = ? AND author = ? ORDER BY seq DESC LIMIT 1',
    ).get(dna, author) as { seq: number; hash: Buffer; timestamp: number } | undefined;
    const seq = head ? head.seq + 1 : 0;
    // Holochain refuses an action older than the one before it.
    const timestamp = Math.max(nowMicros(), head ? head.timestamp + 1 : 0);
    const entryBytes = entryType == null ? null : encode(entry);
    const entryHash = entryBytes == null ? null : hashBytes('entry', entryBytes);
    const action = {
      type: actionType,
      // Holochain's Dna action carries the DNA hash; later ones inherit it through prev_action.
      dna,
      author,
      timestamp,
      action_seq: seq,
      prev_action: head ? new Uint8Array(head.hash) : null,
      entry_type: entryType,
      entry_hash: entryHash,
    };
    const hash = hashBytes('action', encode(action));
    const signature = signEd25519(this.signingKey, hash);
    this.stmt(
      `INSERT INTO actions (hash, dna, author, seq, prev_hash, action_type, entry_type, entry_hash,
           entry, timestamp, signature, call_provenance, call_digest, call_signature)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      hash,
      dna,
      author,
      seq,
      action.prev_action,
      actionType,
      entryType,
      entryHash,
      entryBytes,
      timestamp,
      signature,
      evidence?.provenance ?? null,
      evidence?.digest ?? null,
      evidence?.signature ?? null,
    );
    return { actionHash: hash, entryHash: entryHash ?? new Uint8Array(), timestamp, seq };
  }

  /** Number of actions on a cell's chain. */
  chainLength(cell: CellId): number {
    const row = this.stmt('SELECT COUNT(*) AS n FROM actions WHERE dna = ? AND author = ?').get(
      cell[0],
      cell[1],
    ) as { n: number };
    return row.n;
  }

  // ---- capability grants ----

  /**
   * Grants `assignee` an assigned capability (all functions) on a cell, as a CapGrant entry on
   * the cell's chain, and returns that action's hash. Idempotent: the same key and secret do
   * not pile up grants (the first grant's hash is returned).
   */
  grantAssigned(cell: CellId, assignee: Uint8Array, secret: Uint8Array, tag: string): Uint8Array {
    const [dna, agent] = cell;
    return this.db.transaction(() => {
      const exists = this.stmt(
        'SELECT action_hash FROM cap_grants WHERE dna = ? AND agent = ? AND assignee = ? AND secret = ?',
      ).get(dna, agent, assignee, secret) as { action_hash: Uint8Array } | undefined;
      if (exists) return new Uint8Array(exists.action_hash);
      const grant = {
        tag,
        access: { type: 'assigned', value: { secret, assignees: [assignee] } },
        functions: { type: 'all' },
      };
      const { actionHash } = this.append(cell, 'create', 'CapGrant', grant, undefined);
      this.stmt(
        'INSERT INTO cap_grants (dna, agent, assignee, secret, tag, action_hash) VALUES (?, ?, ?, ?, ?, ?)',
      ).run(dna, agent, assignee, secret, tag, actionHash);
      return actionHash;
    })();
  }

  /**
   * Holochain's `valid_cap_grant`: the cell's own agent is always authorized (its chain-author
   * grant); anyone else needs an assigned grant naming them with this secret.
   */
  isAuthorized(cell: CellId, provenance: Uint8Array, secret: Uint8Array | null): boolean {
    if (sameBytes(provenance, cell[1])) return true;
    if (secret == null) return false;
    return (
      this.stmt(
        'SELECT 1 FROM cap_grants WHERE dna = ? AND agent = ? AND assignee = ? AND secret = ?',
      ).get(cell[0], cell[1], provenance, secret) !== undefined
    );
  }

  // ---- nonces ----

  /**
   * Holochain's `witness_nonce`: refuse expired calls and calls expiring implausibly far ahead,
   * then remember each (provenance, nonce) until its expiry so a replay is refused.
   */
  witnessNonce(
    provenance: Uint8Array,
    nonce: Uint8Array,
    expiresAt: number,
    now = nowMicros(),
  ): NonceVerdict {
    if (expiresAt <= now) return 'Expired';
    if (expiresAt > now + WITNESSABLE_EXPIRY_MICROS) return 'Future';
    return this.db.transaction((): NonceVerdict => {
      this.stmt('DELETE FROM nonces WHERE expires <= ?').run(now);
      const result = this.stmt(
        'INSERT OR IGNORE INTO nonces (provenance, nonce, expires) VALUES (?, ?, ?)',
      ).run(provenance, nonce, expiresAt);
      return result.changes === 0 ? 'Duplicate' : 'Fresh';
    })();
  }
}

interface AppRow {
  installed_app_id: string;
  agent: Buffer;
  installed_at: number;
}

function toApp(row: AppRow): AppRecord {
  return {
    installedAppId: row.installed_app_id,
    agent: new Uint8Array(row.agent),
    installedAt: row.installed_at,
  };
}
