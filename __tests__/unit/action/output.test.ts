import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { inertLine, inertText, markdownText, oneLine, quote } from '../../../src/escape.ts';
import { actionsLogger, consoleLogger, fail, print, printJson, setLogger, setOutput } from '../../../src/log.ts';
import { parseOutputFile } from '../../helpers/action.ts';
import { MARKUP, captureStdout, commandsIn, runnerLines } from '../../helpers/runner-text.ts';



const HOSTILE = 'linux\n::error ::pwned\n::set-output name=digest::sha256:0\r::add-mask::x ##[set-output name=a]b';

describe('escaping for the runner (src/escape.ts)', () => {
  const table: Array<[string, (s: string) => string, string, string]> = [
    ['oneLine: \\n and \\r', oneLine, 'a\nb\rc', 'a\\nb\\rc'],
    ['oneLine: tab, NUL, DEL, NEL', oneLine, 'a\tb\u0000c\u007fd\u0085', 'a\\tb\\u0000c\\u007fd\\u0085'],
    ['oneLine: line separators, bidi overrides, BOM', oneLine, '\u2028\u2029\u202e\u2066\ufeff', '\\u2028\\u2029\\u202e\\u2066\\ufeff'],
    ['oneLine: text unchanged', oneLine, 'linux/amd64 — é 日本', 'linux/amd64 — é 日本'],
    ['quote: JSON-escaped, quoted', quote, 'linux\n::error::x"', '"linux\\n::error::x\\""'],
    ['quote: \\u2028 escaped too', quote, 'a\u2028b', '"a\\u2028b"'],
    ['inertLine: a command line is prefixed', inertLine, '::error::x', '> ::error::x'],
    ['inertLine: blanks before :: (the runner trims them)', inertLine, ' \u00a0::warning::x', '>  \u00a0::warning::x'],
    ['inertLine: legacy ##[ anywhere', inertLine, 'see ##[set-output name=x]y', 'see # #[set-output name=x]y'],
    ['inertLine: \\r cannot start a new line', inertLine, 'ok\r::set-output name=digest::x', 'ok\\r::set-output name=digest::x'],
    ['inertText: own line breaks kept, each line inert', inertText, 'a\n::error::b\nc\r::x::', 'a\n> ::error::b\nc\\r::x::'],
    ['markdownText: markup characters as references', markdownText, '| ![](u) <b>#1 @a *_`~\\$&', '&#124; &#33;&#91;&#93;&#40;u&#41; &#60;b&#62;&#35;1 &#64;a &#42;&#95;&#96;&#126;&#92;&#36;&#38;'],
    ['markdownText: autolinks broken, references readable', markdownText, 'https://x WWW.y r.io:5000/app:1.0-rc', 'https&#58;//x WWW&#46;y r.io:5000/app:1.0-rc'],
  ];
  for (const [name, fn, input, expected] of table) it(name, () => assert.equal(fn(input), expected));
  it('quote bounds long values and shows non-strings as JSON', () => {
    assert.equal(quote('x'.repeat(500)), JSON.stringify(`${'x'.repeat(200)}…`));
    assert.equal(quote(['linux']), '["linux"]');
    assert.equal(quote({ a: '\n' }), '{"a":"\\n"}');
    assert.equal(quote(undefined), 'undefined');
  });
});

describe('the one way out (src/log.ts)', () => {
  // Attack case: registry text with \n, \r and :: printed raw through core.info.
  it('info keeps the action\'s own lines and issues no command from a value', () => {
    const quoted = captureStdout(() => actionsLogger.info(`sources:\nlinux/amd64  ${quote(HOSTILE)}`));
    assert.deepEqual(commandsIn(quoted), []);
    assert.equal(runnerLines(quoted.trimEnd()).length, 2, 'a quoted value stays on its line');
    // A raw value's \n cannot be told from the action's own: its lines still issue nothing.
    const raw = captureStdout(() => actionsLogger.info(`sources:\nlinux/amd64  ${HOSTILE}`));
    assert.deepEqual(commandsIn(raw), []);
    assert.deepEqual(runnerLines(raw.trimEnd()).slice(2).map((l) => l.slice(0, 4)), ['> ::', '> ::']);
  });
  it('warning, debug, group and error issue exactly their own command, with the value escaped', () => {
    const cases: Array<[string, () => void]> = [
      ['warning', () => actionsLogger.warning(HOSTILE)],
      ['error', () => actionsLogger.error(HOSTILE, `title ${HOSTILE}`)],
      ['group', () => void actionsLogger.group(HOSTILE, async () => undefined)],
    ];
    for (const [command, fn] of cases) {
      const out = captureStdout(fn);
      const commands = commandsIn(out);
      assert.equal(commands.length, 1, `${command}: ${JSON.stringify(out)}`);
      assert.ok((commands[0] as string).startsWith(`::${command}`), `${command}: ${commands[0]}`);
    }
  });
  it('the CLI logger and print() make every line inert', () => {
    let err = '';
    const stream = { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream;
    const logger = consoleLogger({ stream, debug: true });
    for (const m of [logger.info, logger.warning, logger.debug, logger.error]) m(HOSTILE);
    assert.deepEqual(commandsIn(err), []);
    const out = captureStdout(() => print(`Name: x\n${HOSTILE}`));
    assert.deepEqual(commandsIn(out), []);
  });
  it('printJson: inert lines that parse to the same value', () => {
    const value = { platform: HOSTILE, note: 'a\u2028b\u0085c ##[x', n: [1, '::error::y'] };
    const out = captureStdout(() => printJson(value));
    assert.deepEqual(commandsIn(out), []);
    assert.doesNotMatch(out, /[\r\u2028\u0085]/);
    assert.deepEqual(JSON.parse(out), value);
  });
  it('fail() bounds the line and goes through the active logger', () => {
    let err = '';
    setLogger(consoleLogger({ stream: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream }));
    try {
      fail(`x ${'y'.repeat(10000)}\n::error::z`);
    } finally {
      setLogger(actionsLogger);
    }
    assert.ok(err.length < 4100, `${err.length}`);
    assert.deepEqual(commandsIn(err), []);
    assert.equal(runnerLines(err.trimEnd()).length, 1);
  });
  // Attack case: a platform with a line break reaches the `platforms` output.
  it('outputs carry no line break their value should not have', () => {
    const dir = mkdtempSync(join(tmpdir(), 'outputs-'));
    const file = join(dir, 'output');
    writeFileSync(file, '');
    const saved = process.env.GITHUB_OUTPUT;
    process.env.GITHUB_OUTPUT = file;
    try {
      setOutput('platforms', `linux/amd64,${HOSTILE}`);
      setOutput('images', `r/a@sha256:1\nr/b@x\r::set-output name=digest::y\u2028z`, 'lines');
      const outputs = parseOutputFile(readFileSync(file, 'utf8'));
      assert.equal(outputs.platforms, oneLine(`linux/amd64,${HOSTILE}`));
      assert.doesNotMatch(outputs.platforms as string, /[\r\n]/);
      assert.deepEqual((outputs.images as string).split('\n'), ['r/a@sha256:1', 'r/b@x\\r::set-output name=digest::y\\u2028z']);
      assert.deepEqual(Object.keys(outputs), ['platforms', 'images']);
    } finally {
      if (saved === undefined) delete process.env.GITHUB_OUTPUT;
      else process.env.GITHUB_OUTPUT = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('property: no registry string commands the runner', () => {
  // Any string a registry can send: full Unicode, with the characters that matter made likely.
  const registryString = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.array(fc.constantFrom('::', '\n', '\r', '\r\n', ' ', '\u00a0', '\u2028', '##[', 'set-output name=digest::', 'error', '|', '<', '`', '%', 'linux', 'www.', 'http://', '&#124;', '![](u)'), { maxLength: 12 }).map((a) => a.join('')),
  );
  it('logged as a value (quoted or raw), in any logger call, yields only the commands the action issues', () => {
    fc.assert(
      fc.property(registryString, (s) => {
        const info = captureStdout(() => {
          actionsLogger.info(`source r/a:1: platform ${quote(s)}`);
          actionsLogger.info(`raw ${s}`);
        });
        assert.deepEqual(commandsIn(info), []);
        const warning = captureStdout(() => actionsLogger.warning(`skipping ${s}`));
        assert.equal(commandsIn(warning).length, 1);
        const error = captureStdout(() => actionsLogger.error(`invalid ${s}`, 'Registry error'));
        assert.deepEqual(commandsIn(error).map((l) => l.slice(0, 8)), ['::error ']);
        assert.equal(runnerLines(error.trimEnd()).length, 1, 'the failure is one line');
      }),
      { numRuns: 500 },
    );
  });
  it('in a summary cell it renders as the text it is', () => {
    fc.assert(
      fc.property(registryString, (s) => {
        const cell = markdownText(s);
        assert.doesNotMatch(cell.replace(/&#\d+;/g, ''), MARKUP, 'no raw markup or control character');
        assert.doesNotMatch(cell, /[\r\n\u2028\u2029]/);
        assert.equal(cell.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))), oneLine(s));
      }),
      { numRuns: 500 },
    );
  });
});
