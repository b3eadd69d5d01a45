/**
 * A connection-level error's text is quoted as every registry-supplied string is: a TLS
 * certificate error lists what the server's certificate holds (its altnames), a redirect names the
 * server's URL. Flattened to one line and cut to QUOTE_LIMIT (escape.ts's flatLine), whatever the
 * server put there (its first line, as for any error not the action's own); short text from Node is
 * kept whole.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeError } from '../../../src/errors.ts';
import { QUOTE_LIMIT } from '../../../src/escape.ts';
import { RedirectTargetError } from '../../../src/registry/http.ts';
import { networkError, unreachableError } from '../../../src/registry/retry.ts';

/** A TLS error as Node raises it for a certificate whose names do not match the host. */
function altnameError(message: string): Error {
  return Object.assign(new Error(message), { code: 'ERR_TLS_CERT_ALTNAME_INVALID', reason: message });
}
const MISMATCH = "Hostname/IP does not match certificate's altnames: Host: r.example. is not in the cert's altnames: ";
const manyNames = Array.from({ length: 400 }, (_, i) => `DNS:name-${i}.attacker.example`).join(', ');
/** Characters that end or disguise a line (escape.ts): none may reach a message raw. */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/;

describe('connection-level errors quote what the server chose bounded and on one line', () => {
  const table: Array<{ name: string; error: Error; quoted: string | RegExp }> = [
    { name: 'a short mismatch, kept whole', error: altnameError(`${MISMATCH}DNS:other.example`), quoted: `${MISMATCH}DNS:other.example` },
    {
      name: 'a certificate of 400 altnames, cut',
      error: altnameError(`${MISMATCH}${manyNames}`),
      quoted: `${MISMATCH}${manyNames.slice(0, QUOTE_LIMIT - 1 - MISMATCH.length)}…`,
    },
    {
      name: 'altnames over several lines, one of them a workflow command: the first line, flattened',
      error: altnameError(`${MISMATCH}DNS:a.example\r::error::forged\r\nDNS:b.example`),
      quoted: `${MISMATCH}DNS:a.example ::error::forged`,
    },
    {
      name: 'control and bidi characters, flattened',
      error: altnameError(`${MISMATCH}DNS:a\u0000\u001b[31m\u202eelpmaxe.b\u2028DNS:c`),
      quoted: `${MISMATCH}DNS:a [31m elpmaxe.b DNS:c`,
    },
    {
      name: 'a long line of controls, then names: flattened before it is cut',
      error: altnameError(`${'\u0007'.repeat(5000)}${MISMATCH}DNS:a.example`),
      quoted: `${MISMATCH}DNS:a.example`,
    },
    {
      name: 'a redirect target with a long certificate error and a long path',
      error: new RedirectTargetError(`https://storage.example/${'p/'.repeat(3000)}?sig=secret`, altnameError(`${MISMATCH}${manyNames}`)),
      quoted: /^at https:\/\/storage\.example\/(p\/)+…$/,
    },
  ];

  for (const { name, error, quoted } of table) {
    it(name, () => {
      const text = describeError(error, 'outside');
      if (typeof quoted === 'string') assert.equal(text, quoted);
      else assert.match(text, quoted);
      assert.ok(text.length <= QUOTE_LIMIT, `${text.length} characters`);
      for (const e of [
        networkError({ method: 'GET', url: 'https://r.example/v2/x/blobs/sha256:0' }, error, 3),
        unreachableError({ registry: 'r.example', host: 'r.example', subject: 'r.example/x:1' }, error, 3),
      ]) {
        assert.ok(e.message.endsWith(text) || e.message.includes(`(${text})`), e.message);
        assert.doesNotMatch(e.message, UNPRINTABLE);
        assert.doesNotMatch(e.line, UNPRINTABLE);
        assert.ok(e.message.length <= QUOTE_LIMIT + 120, `${e.message.length} characters: ${e.message}`);
        assert.ok((e.detail ?? '').length <= QUOTE_LIMIT);
        // The hint still says what to do about an untrusted certificate.
        assert.match(e.line, /NODE_EXTRA_CA_CERTS/);
      }
    });
  }

  it('a redirect target’s host, named in the hint, is bounded too (the URL parser takes a host of any length)', () => {
    const host = `${'a'.repeat(60)}.`.repeat(50) + 'zz-tail';
    const e = networkError({ method: 'GET', url: 'https://r.example/v2/x/blobs/sha256:0' }, new RedirectTargetError(`https://${host}/blob`, altnameError(`${MISMATCH}DNS:x`)), 1);
    assert.ok(e.line.length < 4 * QUOTE_LIMIT + 400, `${e.line.length} characters`);
    assert.match(e.line, /The TLS certificate of [a.]{100,200}… \(a redirect target\)/);
    assert.doesNotMatch(e.line, /zz-tail/);
  });

  it('the secret of a redirect target’s URL is not quoted', () => {
    const text = describeError(new RedirectTargetError('https://storage.example/blob?sig=secret', altnameError(`${MISMATCH}DNS:x`)), 'outside');
    assert.doesNotMatch(text, /secret/);
    assert.match(text, /where the request was redirected: Hostname\/IP does not match/);
  });
});
