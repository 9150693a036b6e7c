import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_SETTINGS, RESTART_KEYS, SERVER_KEYS, needsRestart, toServerSettings } from '../../src/logic/settings';

const root = path.resolve(__dirname, '..', '..', '..');

interface ConfigProp {
  type: string;
  default: unknown;
  enum?: string[];
  description?: string;
  markdownDescription?: string;
}

function manifestProps(): Record<string, ConfigProp> {
  const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, ConfigProp> } };
  };
  return pkg.contributes.configuration.properties;
}

/** Rows of the settings table in docs/protocol.md: key → [type, default]. */
function protocolTable(): Map<string, { type: string; def: string }> {
  const doc = readFileSync(path.join(root, 'docs', 'protocol.md'), 'utf8');
  const rows = new Map<string, { type: string; def: string }>();
  for (const line of doc.split('\n')) {
    const m = /^\| `(\w+)` \| (.+?) \| (.+?) \| .* \|$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined && m[3] !== undefined) {
      rows.set(m[1], { type: m[2], def: m[3] });
    }
  }
  return rows;
}

describe('toServerSettings', () => {
  it('gives the defaults for an empty configuration', () => {
    assert.deepEqual(toServerSettings(() => undefined), DEFAULT_SETTINGS);
  });

  it('passes valid values through and omits the client-only python', () => {
    const values: Record<string, unknown> = {
      model: 'microsoft/llmlingua-2-xlm-roberta-large-meetingbank',
      device: 'cpu',
      method: 'llmlingua2',
      rankMethod: 'bm25',
      rate: 0.5,
      targetModel: 'gpt-4o-mini',
      tokenBudget: 1200,
      promptFiles: ['**/*.md'],
      preserve: ['\\bJSON\\b'],
      keepCodeBlocks: false,
      unprotect: ['numbers', 'quotes'],
      warmUp: false,
      python: '/usr/bin/python3',
    };
    const s = toServerSettings((k) => values[k]);
    const { python: _python, ...serverValues } = values;
    assert.deepEqual(s, serverValues);
    assert.ok(!('python' in s));
  });

  it('accepts cuda:N devices', () => {
    assert.equal(toServerSettings((k) => (k === 'device' ? 'cuda:1' : undefined)).device, 'cuda:1');
    assert.equal(toServerSettings((k) => (k === 'device' ? 'cuda:x' : undefined)).device, 'auto');
  });

  it('falls back to the default for invalid values', () => {
    const values: Record<string, unknown> = {
      model: '  ',
      device: 'tpu',
      method: 42,
      rankMethod: 'pagerank',
      rate: 0,
      tokenBudget: 1.5,
      promptFiles: ['ok', 3],
      preserve: 'not a list',
      keepCodeBlocks: 'yes',
      unprotect: 'numbers',
      warmUp: 'no',
    };
    assert.deepEqual(toServerSettings((k) => values[k]), DEFAULT_SETTINGS);
    assert.equal(toServerSettings((k) => (k === 'rate' ? 1.5 : undefined)).rate, 0.33);
    assert.equal(toServerSettings((k) => (k === 'rate' ? 1 : undefined)).rate, 1);
  });
});

describe('needsRestart', () => {
  it('restarts for python, model and device only', () => {
    assert.deepEqual([...RESTART_KEYS].sort(), ['device', 'model', 'python']);
    assert.equal(needsRestart((s) => s === 'lingua.model'), true);
    assert.equal(needsRestart((s) => s === 'lingua.python'), true);
    assert.equal(needsRestart((s) => s === 'lingua.rate'), false);
  });
});

describe('package.json configuration matches docs/protocol.md and the client', () => {
  const props = manifestProps();
  const table = protocolTable();

  it('has exactly the keys of the protocol table', () => {
    assert.deepEqual(Object.keys(props).map((k) => k.replace(/^lingua\./, '')).sort(), [...table.keys()].sort());
    assert.deepEqual([...SERVER_KEYS, 'python'].sort(), [...table.keys()].sort());
  });

  it('has the protocol defaults, also in DEFAULT_SETTINGS', () => {
    for (const [key, row] of table) {
      const prop = props[`lingua.${key}`];
      assert.ok(prop !== undefined, key);
      const def = JSON.parse(row.def.replace(/^`|`$/g, '')) as unknown;
      assert.deepEqual(prop.default, def, key);
      if (key !== 'python') {
        assert.deepEqual(DEFAULT_SETTINGS[key as keyof typeof DEFAULT_SETTINGS], def, key);
      }
      assert.ok((prop.description ?? prop.markdownDescription ?? '').length > 20, `${key} has a description`);
    }
  });

  it('has the protocol types and enums', () => {
    for (const [key, row] of table) {
      const prop = props[`lingua.${key}`];
      assert.ok(prop !== undefined);
      const enumValues = [...row.type.matchAll(/`([\w:-]+)`/g)].map((m) => m[1]);
      if (key === 'device') {
        // `cuda:N` makes it a pattern, not an enum: every listed form must match it.
        assert.equal(prop.type, 'string');
        const re = new RegExp((prop as ConfigProp & { pattern: string }).pattern);
        for (const v of enumValues) {
          assert.ok(v !== undefined && re.test(v.replace(':N', ':1')), `device ${String(v)}`);
        }
        assert.ok(!re.test('tpu'));
      } else if (row.type.includes('|') && enumValues.length > 1) {
        assert.deepEqual(prop.enum, enumValues, key);
        assert.equal(prop.type, 'string');
      } else if (row.type.startsWith('string[]')) {
        assert.equal(prop.type, 'array', key);
      } else if (row.type.startsWith('integer')) {
        assert.equal(prop.type, 'integer', key);
      } else if (row.type.startsWith('number')) {
        assert.equal(prop.type, 'number', key);
      } else {
        assert.equal(prop.type, row.type, key);
      }
    }
  });
});
