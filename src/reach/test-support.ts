/** Test agents: real Ed25519 identities and their agent keys (shared by the reach tests). */
import { ed25519 } from '@noble/curves/ed25519.js';
import { type AgentKey, agentKeyFromEd25519 } from './agent.ts';

export interface TestAgent {
  secret: Uint8Array;
  agent: AgentKey;
}

export function testAgent(): TestAgent {
  const secret = ed25519.utils.randomSecretKey();
  return { secret, agent: agentKeyFromEd25519(ed25519.getPublicKey(secret)) };
}
