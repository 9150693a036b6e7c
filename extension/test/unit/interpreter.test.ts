import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ProbeResult,
  PROBE_SCRIPT,
  REQUIRED_MODULES,
  chooseInterpreter,
  expandSetting,
  explainFailure,
  interpreterCandidates,
  parseProbeOutput,
  venvPython,
} from '../../src/logic/interpreter';

const base = {
  setting: '',
  workspaceFolders: ['/ws/a', '/ws/b'],
  extensionPath: '/ext',
  platform: 'linux' as NodeJS.Platform,
  homeDir: '/home/u',
};

describe('interpreterCandidates', () => {
  it('uses only the setting when it is set, expanded', () => {
    const c = interpreterCandidates({ ...base, setting: ' ~/venvs/x/bin/python ', pythonExtensionPath: '/py/ext', exists: () => true });
    assert.deepEqual(c, [{ path: '/home/u/venvs/x/bin/python', source: 'setting' }]);
  });

  it('expands ${workspaceFolder} to the first folder', () => {
    const c = interpreterCandidates({ ...base, setting: '${workspaceFolder}/.venv/bin/python', exists: () => false });
    assert.deepEqual(c, [{ path: '/ws/a/.venv/bin/python', source: 'setting' }]);
  });

  it('orders Python extension, workspace .venv, extension .venv, python3', () => {
    const c = interpreterCandidates({ ...base, pythonExtensionPath: '/py/ext/bin/python', exists: () => true });
    assert.deepEqual(
      c.map((x) => [x.path, x.source]),
      [
        ['/py/ext/bin/python', 'pythonExtension'],
        ['/ws/a/.venv/bin/python', 'workspaceVenv'],
        ['/ws/b/.venv/bin/python', 'workspaceVenv'],
        ['/ext/.venv/bin/python', 'extensionVenv'],
        ['python3', 'path'],
      ],
    );
  });

  it('skips .venv folders that do not exist and the Python extension when absent', () => {
    const c = interpreterCandidates({ ...base, exists: (p) => p === '/ext/.venv/bin/python' });
    assert.deepEqual(
      c.map((x) => x.source),
      ['extensionVenv', 'path'],
    );
  });

  it('drops duplicates (the Python extension pointing at the workspace .venv)', () => {
    const c = interpreterCandidates({ ...base, workspaceFolders: ['/ws/a'], pythonExtensionPath: '/ws/a/.venv/bin/python', exists: () => true });
    assert.deepEqual(
      c.map((x) => x.source),
      ['pythonExtension', 'extensionVenv', 'path'],
    );
  });

  it('uses Windows layouts on win32', () => {
    assert.equal(venvPython('C:\\ws', 'win32'), 'C:\\ws\\.venv\\Scripts\\python.exe');
    const c = interpreterCandidates({ ...base, workspaceFolders: [], extensionPath: 'C:\\ext', platform: 'win32', exists: () => false });
    assert.deepEqual(c, [{ path: 'python', source: 'path' }]);
  });
});

describe('expandSetting', () => {
  it('leaves plain paths alone and trims', () => {
    assert.equal(expandSetting('  /usr/bin/python3 ', undefined, '/h'), '/usr/bin/python3');
    assert.equal(expandSetting('${userHome}/p', undefined, '/h'), '/h/p');
    assert.equal(expandSetting('${workspaceFolder}/p', undefined, '/h'), '${workspaceFolder}/p');
  });
});

describe('probe', () => {
  it('checks every module the server needs', () => {
    for (const m of REQUIRED_MODULES) {
      assert.ok(PROBE_SCRIPT.includes(`"${m}"`), m);
    }
    assert.ok(PROBE_SCRIPT.includes('server.__main__'));
  });

  it('parses the last JSON line, ignoring warnings before it', () => {
    const r = parseProbeOutput('some warning\n{"ok": false, "missing": ["torch"], "version": "3.11.2"}\n');
    assert.deepEqual(r, { ok: false, missing: ['torch'], version: '3.11.2' });
    assert.equal(parseProbeOutput('{"ok": true, "missing": []}').ok, true);
  });

  it('treats garbage as a failure with a reason', () => {
    assert.equal(parseProbeOutput('').ok, false);
    assert.ok(parseProbeOutput('{nope').error !== undefined);
    // ok must agree with missing
    assert.equal(parseProbeOutput('{"ok": true, "missing": ["x"]}').ok, false);
  });
});

describe('chooseInterpreter', () => {
  it('stops at the first interpreter that has everything', async () => {
    const results: Record<string, ProbeResult> = {
      a: { ok: false, missing: ['torch'] },
      b: { ok: true, missing: [] },
      c: { ok: true, missing: [] },
    };
    const probed: string[] = [];
    const choice = await chooseInterpreter(
      ['a', 'b', 'c'].map((p) => ({ path: p, source: 'path' as const })),
      (p) => {
        probed.push(p);
        return Promise.resolve(results[p] ?? { ok: false, missing: [] });
      },
    );
    assert.equal(choice.chosen?.path, 'b');
    assert.deepEqual(probed, ['a', 'b']);
  });

  it('explains every failure and the fix when none works', async () => {
    const choice = await chooseInterpreter(
      [
        { path: '/bad/python', source: 'setting' },
        { path: 'python3', source: 'path' },
      ],
      (p) => Promise.resolve(p === 'python3' ? { ok: false, missing: ['torch', 'pygls'] } : { ok: false, missing: [], error: 'not found' }),
    );
    assert.equal(choice.chosen, undefined);
    const text = explainFailure(choice, '/ext');
    assert.match(text, /\/bad\/python \(the lingua\.python setting\): not found/);
    assert.match(text, /python3 \(python3 on PATH\): lacks torch, pygls/);
    assert.match(text, /lingua\.python/);
    assert.match(text, /pip install "\/ext"/);
  });
});
