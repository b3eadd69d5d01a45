import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { ActionError } from '../../../src/errors.ts';
import { flatLine } from '../../../src/escape.ts';
import { digestMismatch, formatDiagnostics, parseErrorBody, responseError } from '../../../src/registry/response-errors.ts';

const ctx = { method: 'PUT', registry: 'r.example', repository: 'app', what: 'push manifest r.example/app:1', access: 'push' as const };

describe('registry error responses', () => {
  it('registry text is flattened by escape.ts (flatLine): what could end or disguise a line becomes one space; long text is cut', () => {
    const table: Array<[string, number | undefined, string]> = [
      ['plain', undefined, 'plain'],
      ['a\nb\r\nc', undefined, 'a b c'],
      ['x\u0000\u001b[31my\u007f\u0085z', undefined, 'x [31my z'],
      ['line\u2028sep', undefined, 'line sep'],
      ['bidi\u202eoverride\u2066and\ufeffBOM', undefined, 'bidi override and BOM'],
      ['  padded\t', undefined, 'padded'],
      ['abcdefghij', 5, 'abcd…'],
    ];
    for (const [input, limit, want] of table) assert.equal(flatLine(input, limit ?? 200), want, JSON.stringify(input));
  });

  it('keeps every entry with a code; details that are not strings are shown as JSON; each field bounded', () => {
    const body = JSON.stringify({
      errors: [
        { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown\n::error::forged', detail: { digest: 'sha256:aa' } },
        { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown', detail: 'sha256:bb' },
        { message: 'no code' },
        { code: 'X', message: 'm'.repeat(1000), detail: null },
      ],
    });
    const got = parseErrorBody(body);
    assert.equal(got.length, 3);
    assert.deepEqual(got[0], { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown ::error::forged', detail: '{"digest":"sha256:aa"}' });
    assert.deepEqual(got[1], { code: 'MANIFEST_BLOB_UNKNOWN', message: 'blob unknown', detail: 'sha256:bb' });
    assert.equal(got[2]?.message?.length, 200);
    assert.equal(got[2]?.detail, undefined);
  });

  it('formats every entry on one bounded line', () => {
    assert.equal(formatDiagnostics([{ code: 'A', message: 'a', detail: 'd' }, { code: 'B' }]), 'A: a (d); B');
    const many = Array.from({ length: 20 }, (_, i) => ({ code: `C${i}`, message: 'x'.repeat(190) }));
    const line = formatDiagnostics(many);
    assert.ok(line.length <= 1000, String(line.length));
    assert.match(line, /^C0: x+; C1: /);
  });

  it('responseError: the first code leads, every entry is in the message and on the error', async () => {
    const body = Readable.from([Buffer.from(JSON.stringify({ errors: [{ code: 'DENIED', message: 'no push' }, { code: 'UNAUTHORIZED', message: 'login' }] }))]);
    const e = await responseError({ status: 403, body }, ctx, '201');
    assert.equal(e.code, 'DENIED');
    assert.equal(e.kind, 'auth');
    assert.equal(e.message, 'push manifest r.example/app:1 failed: PUT r.example/app answered HTTP 403 DENIED: no push; UNAUTHORIZED: login (expected 201)');
    assert.deepEqual(e.diagnostics, [{ code: 'DENIED', message: 'no push' }, { code: 'UNAUTHORIZED', message: 'login' }]);
    const empty = await responseError({ status: 502, body: Readable.from([Buffer.from('<html>')]) }, ctx, '201');
    assert.equal(empty.code, 'UNAVAILABLE');
    assert.deepEqual(empty.diagnostics, []);
  });

  it('digestMismatch: one shape for every digest error', () => {
    const e = digestMismatch('manifest r/app@sha256:aa', 'sha256:aa', 'sha256:bb', 'retry');
    assert.ok(e instanceof ActionError);
    assert.deepEqual([e.kind, e.code, e.message, e.hint], ['integrity', 'DIGEST_INVALID', 'manifest r/app@sha256:aa does not match its digest: expected sha256:aa, got sha256:bb', 'retry']);
  });
});
