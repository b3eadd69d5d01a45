import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalRegistry,
  dialHost,
  hostOfServerUrl,
  isListedInsecure,
  isLoopback,
  normalizeInsecureEntry,
  parseInsecureRegistries,
  proxyEnvironment,
  splitHostPort,
  usesProxy,
} from '../../../src/hosts.ts';

describe('host rules', () => {
  const table = <I, O>(name: string, f: (i: I) => O, rows: Array<[I, O]>) =>
    describe(name, () => {
      for (const [input, want] of rows) it(`${JSON.stringify(input)} → ${JSON.stringify(want)}`, () => assert.deepEqual(f(input), want));
    });

  table('canonicalRegistry: Docker Hub aliases folded, scheme and path dropped, lowercased', canonicalRegistry, [
    ['docker.io', 'docker.io'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['Index.Docker.IO', 'docker.io'],
    ['http://GHCR.io/', 'ghcr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['registry.example:5000/v2/', 'registry.example:5000'],
    [' quay.io ', 'quay.io'],
  ]);

  table('hostOfServerUrl: Docker’s ConvertToHostname (case kept)', hostOfServerUrl, [
    ['https://registry.example:5000/v2/', 'registry.example:5000'],
    ['HTTP://Host/x', 'Host'],
    ['host', 'host'],
    ['ftp://host/x', 'ftp:'],
  ]);

  table('dialHost: Docker Hub is dialled at registry-1.docker.io', dialHost, [
    ['docker.io', 'registry-1.docker.io'],
    ['index.docker.io', 'registry-1.docker.io'],
    ['ghcr.io', 'ghcr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['auth.docker.io', 'auth.docker.io'],
  ]);

  table('splitHostPort', splitHostPort, [
    ['ghcr.io', { hostname: 'ghcr.io', port: '' }],
    ['127.0.0.1:5000', { hostname: '127.0.0.1', port: '5000' }],
    ['[::1]:5000', { hostname: '[::1]', port: '5000' }],
    ['[::1]', { hostname: '[::1]', port: '' }],
  ]);

  table('isLoopback: 127/8, ::1, localhost, any case', isLoopback, [
    ['127.0.0.1', true],
    ['127.255.3.4', true],
    ['localhost', true],
    ['LOCALHOST', true],
    ['::1', true],
    ['[::1]', true],
    ['128.0.0.1', false],
    ['127.0.0.1.example', false],
    ['localhost.example', false],
    ['10.0.0.1', false],
    ['', false],
  ]);

  table('normalizeInsecureEntry: scheme and trailing slashes stripped, host lowercased', normalizeInsecureEntry, [
    ['Registry.Local:5000', 'registry.local:5000'],
    ['https://registry.local:5000/', 'registry.local:5000'],
    ['http://registry.local//', 'registry.local'],
    ['registry.local:5000', 'registry.local:5000'],
  ]);

  table('parseInsecureRegistries: lines and commas, blanks and comments skipped', parseInsecureRegistries, [
    ['', []],
    ['a.local\nhttps://B.local:5000/, c.local\n# not this\n\n', ['a.local', 'b.local:5000', 'c.local']],
    ['  a.local  ,  ', ['a.local']],
  ]);

  it('isListedInsecure matches the registry or its dial host, in any spelling of the list', () => {
    assert.equal(isListedInsecure('registry.local:5000', ['https://Registry.Local:5000/']), true);
    assert.equal(isListedInsecure('registry.local:5000', ['registry.local']), false);
    assert.equal(isListedInsecure('docker.io', ['registry-1.docker.io']), true);
    assert.equal(isListedInsecure('docker.io', ['docker.io']), true);
    assert.equal(isListedInsecure('ghcr.io', []), false);
  });

  table('proxyEnvironment: lowercase variables win; empty ones count as unset', proxyEnvironment, [
    [{}, { httpsProxy: undefined, httpProxy: undefined, noProxy: undefined }],
    [{ HTTPS_PROXY: 'http://a:3128', NO_PROXY: 'x' }, { httpsProxy: 'http://a:3128', httpProxy: undefined, noProxy: 'x' }],
    [{ https_proxy: 'http://low', HTTPS_PROXY: 'http://up' }, { httpsProxy: 'http://low', httpProxy: undefined, noProxy: undefined }],
    [{ http_proxy: '', HTTP_PROXY: 'http://up', no_proxy: 'y' }, { httpsProxy: undefined, httpProxy: 'http://up', noProxy: 'y' }],
  ]);

  table('usesProxy: either proxy variable', (env: NodeJS.ProcessEnv) => usesProxy(proxyEnvironment(env)), [
    [{}, false],
    [{ NO_PROXY: '*' }, false],
    [{ http_proxy: 'http://p' }, true],
    [{ HTTPS_PROXY: 'http://p' }, true],
  ]);
});
