import type { WebSocket } from 'ws';
import type { Logger } from '../log.ts';
import { CLOSE_NOT_HOLOCHAIN, type ConductorEmulator, closeReason } from './conductor.ts';
import { hashToB64, hasValidLocation, isHoloHash } from './hash.ts';
import { DNA_HASHES, type EmulatorStore, ROLES, roleOfDna } from './store.ts';
import {
  answerRequest,
  CAP_SECRET_LENGTH,
  type CellId,
  ConductorError,
  type Envelope,
  EnvelopeError,
  isRecord,
  readEnvelope,
  responseMessage,
} from './wire.ts';

/**
 * The conductor emulator's ADMIN interface, as @holochain/client 0.20's `AdminWebsocket` speaks
 * to a conductor: the app interface's envelopes (`{type:'request', id, data}` →
 * `{type:'response', id, data}`, no authenticate), AdminRequest/AdminResponse tagged `type`,
 * snake_case. It carries out what a doorway's chaperone needs (README.md, "Admin interface");
 * the rest answers `internal_error` saying so. Who may connect is decided before (interfaces.ts:
 * loopback, allowed Origins, bounded connections, bounded frames).
 */

/** Holochain's default `expiry_seconds` for `issue_app_authentication_token`. */
const DEFAULT_TOKEN_EXPIRY_S = 30;
/** The longest app token the emulator issues (Holochain's 0, never expiring, is refused). */
export const MAX_TOKEN_EXPIRY_S = 7 * 24 * 3600;
/** Assignees one grant may name. */
const MAX_ASSIGNEES = 16;

/** AdminRequest variants a real conductor knows but the emulator does not carry out. */
const UNSUPPORTED = new Set([
  'add_admin_interfaces',
  'register_dna',
  'get_dna_definition',
  'update_coordinators',
  'uninstall_app',
  'list_dnas',
  'list_app_interfaces',
  'attach_app_interface',
  'disable_app',
  'dump_state',
  'dump_conductor_state',
  'dump_full_state',
  'dump_network_metrics',
  'dump_network_stats',
  'generate_agent_pub_key',
  'revoke_agent_key',
  'add_agent_info',
  'agent_info',
  'peer_meta_info',
  'graft_records',
  'revoke_zome_call_capability',
  'list_capability_grants',
  'delete_clone_cell',
  'storage_info',
  'revoke_app_authentication_token',
  'get_compatible_cells',
]);

function refuse(message: string): ConductorError {
  return new ConductorError('internal_error', message);
}

function appId(value: unknown): string {
  if (!isRecord(value) || typeof value.installed_app_id !== 'string') {
    throw new ConductorError('deserialization', 'expected {installed_app_id: string}');
  }
  return value.installed_app_id;
}

function agentKey(value: unknown, field: string): Uint8Array {
  if (!isHoloHash(value, 'agent') || !hasValidLocation(value)) {
    throw new ConductorError(
      'deserialization',
      `${field} must be a 39-byte agent key (84 20 24 + Ed25519 key + location)`,
    );
  }
  return value;
}

export class AdminApi {
  constructor(
    private readonly store: EmulatorStore,
    private readonly emulator: ConductorEmulator,
    private readonly log: Logger,
    private readonly maxDepth: number,
  ) {}

  /** Serves one admin websocket until it closes. */
  serve(ws: WebSocket): void {
    ws.on('message', (data) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      let envelope: Envelope;
      try {
        envelope = readEnvelope(bytes, this.maxDepth);
      } catch (error) {
        if (!(error instanceof EnvelopeError)) throw error;
        ws.close(CLOSE_NOT_HOLOCHAIN, closeReason(error.message));
        return;
      }
      // Signals and authenticate mean nothing on an admin interface.
      if (envelope.type !== 'request') return;
      const response = this.request(envelope.data);
      if (ws.readyState === 1) ws.send(responseMessage(envelope.id, response));
    });
    ws.on('error', (error) => this.log.debug(`hc admin: socket error: ${error.message}`));
  }

  /** Answers one AdminRequest with an AdminResponse (errors included). */
  request(data: Uint8Array): unknown {
    return answerRequest(data, 'AdminRequest', this.maxDepth, this.log, (type, value) =>
      this.answer(type, value),
    );
  }

  private answer(type: string, value: unknown): unknown {
    switch (type) {
      case 'install_app':
        return { type: 'app_installed', value: this.installApp(value) };
      case 'enable_app':
        return { type: 'app_enabled', value: this.appInfoOf(appId(value)) };
      case 'list_apps': {
        // Every emulated app is enabled.
        const filter = isRecord(value) ? value.status_filter : undefined;
        const apps = filter === 'disabled' ? [] : this.store.apps();
        return { type: 'apps_listed', value: apps.map((app) => this.emulator.appInfo(app)) };
      }
      case 'list_cell_ids':
        return {
          type: 'cell_ids_listed',
          value: this.store
            .apps()
            .flatMap((app) => ROLES.map((role): CellId => [DNA_HASHES[role], app.agent])),
        };
      case 'grant_zome_call_capability':
        return { type: 'zome_call_capability_granted', value: this.grant(value) };
      case 'issue_app_authentication_token':
        return { type: 'app_authentication_token_issued', value: this.issueToken(value) };
      default:
        if (UNSUPPORTED.has(type)) {
          throw refuse(
            `${type} is not available on the Elohim conductor emulator (it serves install_app, enable_app, list_apps, list_cell_ids, grant_zome_call_capability, issue_app_authentication_token)`,
          );
        }
        throw new ConductorError(
          'deserialization',
          `unknown variant \`${type.slice(0, 80)}\` of AdminRequest`,
        );
    }
  }

  private appInfoOf(installedAppId: string) {
    const app = this.store.app(installedAppId);
    if (!app) throw refuse(`AppNotInstalled("${installedAppId.slice(0, 120)}")`);
    return this.emulator.appInfo(app);
  }

  /**
   * `install_app` for an agent the caller names: the emulator holds no keystore, so it cannot
   * make one up, and it carries the Elohim hApp built in (`source` is not read). The app id is
   * always `elohim-<agent>`.
   */
  private installApp(value: unknown) {
    if (!isRecord(value)) throw new ConductorError('deserialization', 'expected InstallAppRequest');
    if (value.agent_key == null) {
      throw refuse(
        'the emulator holds no keystore: install_app needs agent_key (the agent signs its own zome calls)',
      );
    }
    const agent = agentKey(value.agent_key, 'agent_key');
    const expected = `elohim-${hashToB64(agent)}`;
    if (value.installed_app_id != null && value.installed_app_id !== expected) {
      throw refuse(
        `the emulator names an agent's app ${expected}; leave installed_app_id out or use that`,
      );
    }
    if (this.store.appOfAgent(agent)) throw refuse(`AppAlreadyInstalled("${expected}")`);
    const app = this.store.installApp(agent);
    this.log.info(`hc admin: installed ${app.installedAppId}`);
    return this.emulator.appInfo(app);
  }

  /** `grant_zome_call_capability`: assigned grants on all functions, which is what the emulator checks. */
  private grant(value: unknown): Uint8Array {
    if (!isRecord(value) || !isRecord(value.cap_grant) || !Array.isArray(value.cell_id)) {
      throw new ConductorError('deserialization', 'expected {cell_id, cap_grant}');
    }
    const [dna, agent] = value.cell_id as unknown[];
    if (!isHoloHash(dna, 'dna') || !roleOfDna(dna) || !isHoloHash(agent, 'agent')) {
      throw refuse('CellMissing: cell_id is not a cell of this conductor (emulator)');
    }
    if (!this.store.appOfAgent(agent)) {
      throw refuse(`CellMissing: no app is installed for ${hashToB64(agent)}`);
    }
    const { tag, access, functions } = value.cap_grant;
    if (typeof tag !== 'string' || tag.length > 128) {
      throw new ConductorError(
        'deserialization',
        'cap_grant.tag must be a string of at most 128 characters',
      );
    }
    if (!isRecord(functions) || functions.type !== 'all') {
      throw refuse('the emulator grants all functions only: functions {type: "all"}');
    }
    if (!isRecord(access) || access.type !== 'assigned' || !isRecord(access.value)) {
      throw refuse(
        'the emulator grants assigned capabilities only: access {type: "assigned", value: {secret, assignees}}',
      );
    }
    const { secret, assignees } = access.value;
    if (!(secret instanceof Uint8Array) || secret.length !== CAP_SECRET_LENGTH) {
      throw new ConductorError(
        'deserialization',
        `the cap secret must be ${CAP_SECRET_LENGTH} bytes`,
      );
    }
    if (!Array.isArray(assignees) || assignees.length === 0 || assignees.length > MAX_ASSIGNEES) {
      throw new ConductorError(
        'deserialization',
        `assignees must name 1 to ${MAX_ASSIGNEES} agent keys`,
      );
    }
    const keys = assignees.map((key, i) => agentKey(key, `assignees[${i}]`));
    const cell: CellId = [dna, agent];
    let actionHash: Uint8Array | undefined;
    for (const key of keys) actionHash = this.store.grantAssigned(cell, key, secret, tag);
    return actionHash as Uint8Array;
  }

  private issueToken(value: unknown) {
    const installedAppId = appId(value);
    if (!this.store.app(installedAppId)) {
      throw refuse(`AppNotInstalled("${installedAppId.slice(0, 120)}")`);
    }
    const fields = value as Record<string, unknown>;
    const expiry = fields.expiry_seconds ?? DEFAULT_TOKEN_EXPIRY_S;
    if (
      typeof expiry !== 'number' ||
      !Number.isInteger(expiry) ||
      expiry < 1 ||
      expiry > MAX_TOKEN_EXPIRY_S
    ) {
      throw refuse(
        `expiry_seconds must be 1 to ${MAX_TOKEN_EXPIRY_S}: the emulator issues no token that never expires`,
      );
    }
    const singleUse = fields.single_use ?? true;
    if (typeof singleUse !== 'boolean') {
      throw new ConductorError('deserialization', 'single_use must be a boolean');
    }
    const token = this.store.issueAppToken(installedAppId, expiry, singleUse);
    // AppAuthenticationToken is Vec<u8>: MessagePack array of numbers, as the conductor sends it.
    return { token: [...token], expires_at: (Date.now() + expiry * 1000) * 1000 };
  }
}
