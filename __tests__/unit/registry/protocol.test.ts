import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { referrersTag } from '../../../src/oci/digest.ts';
import { parseChallenges } from '../../../src/registry/challenge.ts';
import { ScopeSet, parseScope } from '../../../src/registry/scopes.ts';
import { parseTokenResponse } from '../../../src/registry/token.ts';
import { Reference, parse } from '../../../src/oci/reference.ts';
import { OPERATIONS, contentRange } from '../../../src/registry/client.ts';
import { STATUS_CODES, hintFor, parseErrorBody } from '../../../src/registry/response-errors.ts';
import { redactUrl } from '../../../src/registry/http.ts';
import { parseRetryAfter } from '../../../src/registry/retry.ts';
import fc from 'fast-check';
import { loadVectors } from '../../helpers/conformance.ts';
import { PROPERTY_RUNS } from '../../helpers/properties.ts';

const vectors = loadVectors<any>('protocol-vectors.json');

describe('WWW-Authenticate vectors', () => {
  for (const v of vectors.wwwAuthenticate) {
    it(v.source, () => {
      const got = parseChallenges(v.headers);
      if (v.expected) assert.deepEqual(got, v.expected);
      if (v.expectedPartial) {
        for (const [k, val] of Object.entries(v.expectedPartial.parameters)) assert.equal(got[0]?.parameters[k], val);
      }
    });
  }
});

describe('challenge parsing beyond the vectors', () => {
  const table: Array<[string, string | string[], Array<{ scheme: string; parameters: Record<string, string> }>]> = [
    ['scheme is case-insensitive', 'BEARER realm="r"', [{ scheme: 'bearer', parameters: { realm: 'r' } }]],
    ['several challenges in one header', 'Basic realm="b", Bearer realm="https://t/x",service="s"', [
      { scheme: 'basic', parameters: { realm: 'b' } },
      { scheme: 'bearer', parameters: { realm: 'https://t/x', service: 's' } },
    ]],
    ['challenges in several headers', ['Basic realm="x"', 'Bearer realm="y"'], [
      { scheme: 'basic', parameters: { realm: 'x' } },
      { scheme: 'bearer', parameters: { realm: 'y' } },
    ]],
    ['spaces around = and commas', 'Bearer realm = "a" ,  service=b', [{ scheme: 'bearer', parameters: { realm: 'a', service: 'b' } }]],
    ['a comma inside a quoted value', 'Bearer scope="repository:a:pull,push",realm="r"', [{ scheme: 'bearer', parameters: { scope: 'repository:a:pull,push', realm: 'r' } }]],
    ['bare scheme', 'Basic', [{ scheme: 'basic', parameters: {} }]],
    ['empty header', '', []],
  ];
  for (const [name, header, want] of table) it(name, () => assert.deepEqual(parseChallenges(header), want));
});

describe('token responses', () => {
  it('accepts token or access_token and defaults expires_in to 60', () => {
    assert.deepEqual(parseTokenResponse('{"token":"a"}'), { token: 'a', expiresIn: 60 });
    assert.deepEqual(parseTokenResponse('{"access_token":"b","expires_in":900}'), { token: 'b', expiresIn: 900 });
    assert.equal(parseTokenResponse('{"token":"a","issued_at":"2026-01-01T00:00:00Z"}')?.issuedAt, Date.parse('2026-01-01T00:00:00Z'));
    assert.equal(parseTokenResponse('{}'), undefined);
    assert.equal(parseTokenResponse('not json'), undefined);
  });
  for (const ex of vectors.oauthTokenExamples) {
    it(ex.source, () => {
      const parsed = parseTokenResponse(ex.responseBodyRaw);
      if (ex.responseBody) {
        assert.equal(parsed?.token, ex.responseBody.access_token ?? ex.responseBody.token);
        assert.equal(parsed?.expiresIn, ex.responseBody.expires_in ?? 60);
      } else {
        assert.equal(parsed, undefined, 'a body that is not JSON yields no token');
      }
    });
  }
});

describe('scopes', () => {
  it('splits type, a name with host:port, and actions', () => {
    assert.deepEqual(parseScope('repository:localhost:5000/foo/bar:pull,push'), { type: 'repository', name: 'localhost:5000/foo/bar', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository(plugin):foo:pull'), { type: 'repository', name: 'foo', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.equal(parseScope('nonsense'), undefined);
  });
  it('merges actions per repository in a stable order', () => {
    const s = new ScopeSet();
    s.add('b/app', 'push');
    s.add('a/app', 'pull');
    s.add('b/app', 'pull');
    assert.equal(s.addFromChallenge('repository:c:pull repository:a/app:pull'), true);
    assert.equal(s.addFromChallenge('repository:c:pull'), false);
    assert.deepEqual(s.toScopes(), ['repository:a/app:pull', 'repository:b/app:pull,push', 'repository:c:pull']);
  });
  it('scope grammar example from the vectors', () => {
    assert.match(vectors.scopeGrammar.grammar, /resourcename/);
    for (const ex of vectors.wwwAuthenticate) {
      const scope = ex.expected?.[0]?.parameters?.scope as string | undefined;
      if (!scope) continue;
      for (const part of scope.split(' ')) assert.equal(parseScope(part)?.type, 'repository');
    }
  });
});

describe('error envelopes and codes', () => {
  for (const env of vectors.errorEnvelopes) {
    it(env.source, () => {
      assert.deepEqual(
        parseErrorBody(env.json),
        env.parsed.errors.map((e: any) => ({
          code: e.code,
          message: e.message,
          ...(e.detail === undefined ? {} : { detail: typeof e.detail === 'string' ? e.detail : JSON.stringify(e.detail) }),
        })),
      );
    });
  }
  it('gives a hint for the codes users meet', () => {
    const ctx = { method: 'GET', registry: 'r.example', repository: 'app', what: 'x', access: 'push' as const };
    for (const code of ['UNAUTHORIZED', 'DENIED', 'MANIFEST_UNKNOWN', 'NAME_UNKNOWN', 'MANIFEST_BLOB_UNKNOWN', 'TOOMANYREQUESTS', 'BLOB_UNKNOWN']) {
      assert.ok(hintFor(code, ctx), code);
    }
    assert.match(hintFor('DENIED', ctx) as string, /refused push access to app/);
    const oci = vectors.ociErrorCodes.codes.map((c: any) => c.code);
    assert.equal(oci.length, 14);
    for (const c of oci) assert.match(c, /^[A-Z_]+$/);
  });
  it('non-JSON error bodies yield no entries', () => {
    assert.deepEqual(parseErrorBody('<html>502 Bad Gateway</html>'), []);
    assert.deepEqual(parseErrorBody('{"errors":[{"message":"no code"}]}'), []);
    assert.deepEqual(parseErrorBody('{"errors":"nope"}'), []);
  });
});

describe('referrers tag vectors', () => {
  for (const v of vectors.referrersTag) it(v.digest.slice(0, 40), () => assert.equal(referrersTag(v.digest), v.referrersTag));
});

describe('retry-after and redaction', () => {
  it('parses seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('3'), 3000);
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
  it('removes query strings', () => {
    assert.equal(redactUrl('https://s3/x?X-Amz-Signature=secret'), 'https://s3/x?…');
    assert.equal(redactUrl('https://r/v2/'), 'https://r/v2/');
  });
});

describe('endpoint table (distribution-spec) against the operations the client performs', () => {
  const rows = new Map<string, { methods: string[]; success: number[]; failure: number[] }>(vectors.endpoints.rows.map((r: any) => [r.id, r]));
  for (const [name, op] of Object.entries(OPERATIONS)) {
    it(`${name}: ${op.method} ${op.endpoint}`, () => {
      const row = rows.get(op.endpoint);
      assert.ok(row, `endpoint ${op.endpoint} exists`);
      assert.ok(row.methods.includes(op.method));
      assert.deepEqual([...op.success].sort(), [...row.success].sort(), 'the spec’s success statuses, all and only');
      if ('absent' in op) assert.ok(row.failure.includes(op.absent), 'absence is one of the spec’s failure statuses');
      if ('lenient' in op) for (const s of op.lenient) assert.ok(!row.failure.includes(s), 'a lenient status is never a spec failure');
    });
  }
  it('chunk Content-Range follows the spec grammar', () => {
    const re = new RegExp(vectors.grammar.chunkContentRange);
    assert.match(contentRange(0, 1024), re);
    assert.equal(contentRange(1024, 1024), '1024-2047');
  });
});

describe('distribution error codes', () => {
  const codes: Array<{ code: string; httpStatus: number; message: string }> = vectors.distributionErrorCodes.codes;
  it('has the 20 registered codes', () => assert.equal(codes.length, 20));
  for (const c of codes) {
    it(`${c.code} (${c.httpStatus}) is parsed and, where the status says it alone, assumed from it`, () => {
      assert.deepEqual(parseErrorBody(JSON.stringify({ errors: [{ code: c.code, message: c.message }] })), [{ code: c.code, message: c.message }]);
      const sameStatus = codes.filter((x) => x.httpStatus === c.httpStatus);
      const assumed = STATUS_CODES[c.httpStatus];
      if (assumed && sameStatus.length === 1) assert.equal(assumed, c.code);
      if (assumed) assert.ok(codes.some((x) => x.code === assumed && x.httpStatus === c.httpStatus) || assumed === 'NOT_FOUND' || assumed === 'SIZE_INVALID');
    });
  }
});

/** True when `f` returns true, false when it returns false or throws. */
function succeeds(f: () => boolean): boolean {
  try {
    return f();
  } catch {
    return false;
  }
}

describe('name and tag grammar (distribution-spec) agree with the reference parser', () => {
  const specName = new RegExp(`^${vectors.grammar.name}$`);
  const specTag = new RegExp(`^${vectors.grammar.tag}$`);
  const refs = loadVectors<Array<{ input: string }>>('reference-vectors.json');
  const samples = new Set<string>(['a', 'a/b', 'a__b', 'a---b', 'a._b', 'A', 'a/', '/a', 'a//b', 'a.-b', 'library/ubuntu', 'v1.0', '-tag', '_tag', 'x'.repeat(128), 'x'.repeat(129)]);
  for (const r of refs) if (typeof r.input === 'string') for (const part of r.input.split(/[:@]/)) samples.add(part);
  it(`on ${samples.size} strings`, () => {
    // Through what the action parses with: a repository after a fixed registry, a tag by withTag.
    const validName = (s: string) => succeeds(() => parse(`example.com/${s}`).path === s);
    const validTag = (s: string) => succeeds(() => new Reference('example.com', 'x').withTag(s) !== undefined);
    for (const s of samples) {
      // Beyond the grammar, the parser refuses names over 255 characters, as distribution does.
      assert.equal(validName(s), specName.test(s) && s.length <= 255, `name ${JSON.stringify(s)}`);
      assert.equal(validTag(s), specTag.test(s), `tag ${JSON.stringify(s)}`);
    }
    assert.equal(vectors.grammar.tagMaxLength, 128);
  });
});

describe('token response rules', () => {
  it('the defaults the rules state are the parser’s', () => {
    assert.match(vectors.tokenResponseRules.fields.expires_in, /default 60/);
    assert.equal(parseTokenResponse('{"token":"t"}')?.expiresIn, 60);
    assert.match(vectors.tokenResponseRules.fields.access_token, /alias of token/);
    assert.equal(parseTokenResponse('{"access_token":"a"}')?.token, 'a');
  });
});

describe('property: challenge parser', () => {
  it('never throws, and every challenge has a lower-case scheme', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        for (const c of parseChallenges(s)) assert.equal(c.scheme, c.scheme.toLowerCase());
      }),
      PROPERTY_RUNS,
    );
  });
  it('formatting parameters as quoted strings and parsing them again gives them back', () => {
    const key = fc.stringMatching(/^[a-z][a-z_]{0,8}$/);
    const value = fc.string({ maxLength: 30 });
    fc.assert(
      fc.property(fc.constantFrom('Bearer', 'Basic', 'bearer'), fc.dictionary(key, value, { maxKeys: 5 }), (scheme, params) => {
        const header = `${scheme} ${Object.entries(params).map(([k, v]) => `${k}="${v.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}`;
        const [c] = parseChallenges(header);
        assert.equal(c?.scheme, scheme.toLowerCase());
        assert.deepEqual(Object.entries(c?.parameters ?? {}), Object.entries(params));
      }),
      PROPERTY_RUNS,
    );
  });
});
