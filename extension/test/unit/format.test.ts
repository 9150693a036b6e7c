import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type TokenCount, compressionSummary, debounce, formatUsd, heatBucket, settingsQuery, statusText, statusTooltip } from '../../src/logic/format';

const file: TokenCount = { tokens: 1234, encoding: 'o200k_base', targetModel: 'gpt-4o', costUsd: 0.0031, contextWindow: 128000 };
const sel: TokenCount = { ...file, tokens: 56, costUsd: 0.00014 };

describe('status bar text', () => {
  it('shows the file and the selection', () => {
    assert.equal(statusText(file, undefined), '$(symbol-numeric) 1,234 tokens');
    assert.equal(statusText(file, sel), '$(symbol-numeric) 1,234 tokens · 56 selected');
    assert.equal(statusText(undefined, sel), '$(symbol-numeric) 56 tokens selected');
  });

  it('puts cost per call and per 1,000 calls in the tooltip', () => {
    const tip = statusTooltip(file, sel, 1000);
    assert.match(tip, /gpt-4o \(`o200k_base`\)/);
    assert.match(tip, /\| File \| 1,234 \| \$0\.0031 \| \$3\.10 \|/);
    assert.match(tip, /\| Selection \| 56 \| \$0\.00014 \| \$0\.140 \|/);
    assert.match(tip, /Budget 1,000 tokens \(\*\*over\*\*\)/);
    assert.match(tip, /context window 128,000 \(0\.96% used\)/);
  });

  it('marks estimated counts for a target whose tokenizer is not available', () => {
    const claude: TokenCount = { ...file, targetModel: 'claude-sonnet-4-5', approximate: true };
    assert.equal(statusText(claude, { ...claude, tokens: 56 }), '$(symbol-numeric) ~1,234 tokens · ~56 selected');
    assert.match(statusTooltip(claude, undefined, 1000), /Counts are estimates: claude-sonnet-4-5's own tokenizer/);
    assert.doesNotMatch(statusTooltip(file, undefined, 1000), /estimate/);
  });
});

describe('formatUsd', () => {
  it('keeps small costs readable', () => {
    assert.equal(formatUsd(0), '$0');
    assert.equal(formatUsd(12.345), '$12.35');
    assert.equal(formatUsd(0.0456), '$0.046');
    assert.equal(formatUsd(0.000123), '$0.00012');
  });
});

describe('heatBucket', () => {
  it('maps [0, 1] onto the buckets, clamping', () => {
    assert.deepEqual([0, 0.19, 0.2, 0.5, 0.99, 1, 7, -1, Number.NaN].map((p) => heatBucket(p, 5)), [0, 0, 1, 2, 4, 4, 4, 0, 0]);
  });
});

describe('debounce', () => {
  it('runs only the last call', async () => {
    const calls: number[] = [];
    const d = debounce((n: number) => calls.push(n), 20);
    d(1);
    d(2);
    d(3);
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(calls, [3]);
    d(4);
    d.cancel();
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(calls, [3]);
  });
});

describe('compressionSummary', () => {
  const done = { originTokens: 1430, compressedTokens: 477, ratio: 2.998, method: 'llmlingua', seconds: 5.21 };

  it('tells the model load apart from the compression, so the times add up to the wait', () => {
    assert.equal(compressionSummary({ ...done, loadSeconds: 11.62 }), '1,430 → 477 tokens (3.0x, llmlingua) in 5.2 s (+ 11.6 s loading the model)');
  });

  it('says nothing about loading when the model was ready', () => {
    assert.equal(compressionSummary({ ...done, loadSeconds: 0 }), '1,430 → 477 tokens (3.0x, llmlingua) in 5.2 s');
    assert.equal(compressionSummary(done), '1,430 → 477 tokens (3.0x, llmlingua) in 5.2 s');
  });
});

describe('settingsQuery', () => {
  it('filters the Settings editor to exactly the keys at fault', () => {
    assert.equal(settingsQuery(['lingua.method']), '@id:lingua.method');
    assert.equal(settingsQuery(['lingua.rate', 'lingua.device']), '@id:lingua.rate,lingua.device');
  });

  it('falls back to all of Lingua for anything but a lingua.* key', () => {
    assert.equal(settingsQuery(['lingua']), 'lingua.');
    assert.equal(settingsQuery(['editor.fontSize; rm']), 'lingua.');
  });
});
