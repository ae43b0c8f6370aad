import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.ts';
import { MAX_PEER_ENTRIES, parsePeerList } from './peer-list.ts';

const ID = '12D3KooWRBhwfeP2Y7TCx1SM6s8rUh9eWnBvGNTLURE2WgjXh1jY';

describe('--peers', () => {
  it('reads multiaddrs naming a PeerId and doorway URLs', () => {
    expect(
      parsePeerList(
        ` /ip4/10.0.0.2/tcp/8082/p2p/${ID}, https://doorway.example.org/some/path ,,http://127.0.0.1:9000`,
      ),
    ).toEqual([
      { kind: 'multiaddr', addr: `/ip4/10.0.0.2/tcp/8082/p2p/${ID}`, peerId: ID },
      { kind: 'url', url: 'https://doorway.example.org' },
      { kind: 'url', url: 'http://127.0.0.1:9000' },
    ]);
    expect(parsePeerList('')).toEqual([]);
  });

  it('refuses what is not a doorway, naming the entry', () => {
    expect(() => parsePeerList('/ip4/10.0.0.2/tcp/8082')).toThrow(/must end in \/p2p\//);
    expect(() => parsePeerList('/not/a/multiaddr')).toThrow(/not a multiaddr/);
    expect(() => parsePeerList('ftp://doorway.example.org')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parsePeerList('doorway.example.org')).toThrow(/neither a multiaddr/);
    const many = Array.from({ length: MAX_PEER_ENTRIES + 1 }, (_, i) => `http://10.0.0.${i}:1`);
    expect(() => parsePeerList(many.join(','))).toThrow(/at most 64/);
  });

  it('comes from the flag, else the environment; bad ones stop the doorway', () => {
    expect(
      loadConfig(['--peers', 'http://a.example'], { ELOHIM_PEERS: 'http://b.example' }),
    ).toMatchObject({ peers: [{ kind: 'url', url: 'http://a.example' }] });
    expect(loadConfig([], { ELOHIM_PEERS: 'http://b.example' })).toMatchObject({
      peers: [{ kind: 'url', url: 'http://b.example' }],
    });
    expect(() => loadConfig(['--peers', 'nonsense'], {})).toThrow(ConfigError);
  });

  it('reads the TCP port and whether the DHT passes private addresses', () => {
    expect(loadConfig([], {})).toMatchObject({ p2pTcpPort: 8082, dhtPrivateAddrs: true });
    expect(loadConfig(['--port', '0'], {})).toMatchObject({ p2pTcpPort: 0 });
    expect(loadConfig(['--host', '0.0.0.0'], {})).toMatchObject({ dhtPrivateAddrs: false });
    expect(loadConfig(['--p2p-tcp-port', '9100', '--dht-private-addrs', 'off'], {})).toMatchObject({
      p2pTcpPort: 9100,
      dhtPrivateAddrs: false,
    });
    expect(
      loadConfig([], {
        ELOHIM_P2P_TCP_PORT: '0',
        ELOHIM_DHT_PRIVATE_ADDRS: 'on',
        ELOHIM_HOST: '0.0.0.0',
      }),
    ).toMatchObject({ p2pTcpPort: 0, dhtPrivateAddrs: true });
    expect(() => loadConfig(['--p2p-tcp-port', '70000'], {})).toThrow(ConfigError);
    expect(() => loadConfig(['--dht-private-addrs', 'yes'], {})).toThrow(ConfigError);
  });
});
