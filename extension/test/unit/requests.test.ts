import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { argumentToAmount, argumentToTarget, describeAmount, parseRate, parseTargetTokens, pickItems, pickToAmount } from '../../src/logic/requests';

describe('pickItems', () => {
  it('offers 2x, 3x, 5x with the protocol rates, then fit and custom', () => {
    const items = pickItems(4000);
    assert.deepEqual(
      items.map((i) => [i.label, i.kind, i.rate]),
      [
        ['2x', 'rate', 0.5],
        ['3x', 'rate', 0.33],
        ['5x', 'rate', 0.2],
        ['Fit 4,000 tokens…', 'fit', undefined],
        ['Custom rate…', 'custom', undefined],
      ],
    );
  });

  it('projects the selection size when known', () => {
    assert.match(pickItems(4000, 900)[1]?.description ?? '', /about 297 of 900 tokens/);
  });

  it('offers to fit the budget only when the selection is over it, else half the selection', () => {
    assert.equal(pickItems(4000)[3]?.targetTokens, 4000);
    assert.equal(pickItems(4000, 318)[3]?.label, 'Fit 159 tokens…');
    assert.equal(pickItems(4000, 318)[3]?.targetTokens, 159);
    assert.equal(pickItems(500, 1200)[3]?.targetTokens, 500);
    assert.equal(pickItems(500, 1)[3]?.targetTokens, 1);
  });
});

describe('pickToAmount', () => {
  const [two, three, five, fit, custom] = pickItems(500);

  it('maps the fixed factors to rates', () => {
    assert.ok(two && three && five);
    assert.deepEqual(pickToAmount(two), { rate: 0.5 });
    assert.deepEqual(pickToAmount(three), { rate: 0.33 });
    assert.deepEqual(pickToAmount(five), { rate: 0.2 });
  });

  it('maps fit N tokens to targetTokens, and a cancelled input box to nothing', () => {
    assert.ok(fit);
    assert.deepEqual(pickToAmount(fit, '1,200'), { targetTokens: 1200 });
    assert.equal(pickToAmount(fit, undefined), undefined);
    assert.ok('error' in (pickToAmount(fit, '12.5') ?? {}));
    assert.ok('error' in (pickToAmount(fit, '0') ?? {}));
  });

  it('maps custom rates typed in any of three forms', () => {
    assert.ok(custom);
    assert.deepEqual(pickToAmount(custom, '0.25'), { rate: 0.25 });
    assert.deepEqual(pickToAmount(custom, '25%'), { rate: 0.25 });
    assert.deepEqual(pickToAmount(custom, '4x'), { rate: 0.25 });
    assert.deepEqual(pickToAmount(custom, ' 3 X '), { rate: 0.3333 });
    assert.equal(pickToAmount(custom, undefined), undefined);
  });
});

describe('parseRate', () => {
  it('rejects out-of-range and junk', () => {
    for (const bad of ['', '0', '-0.2', '1.5', '150%', '0.5x', 'abc', 'x']) {
      assert.ok('error' in parseRate(bad), bad);
    }
    assert.deepEqual(parseRate('1'), { rate: 1 });
    assert.deepEqual(parseRate('1x'), { rate: 1 });
  });
});

describe('parseTargetTokens', () => {
  it('accepts whole numbers only', () => {
    assert.deepEqual(parseTargetTokens('500'), { targetTokens: 500 });
    assert.deepEqual(parseTargetTokens('1_000'), { targetTokens: 1000 });
    assert.ok('error' in parseTargetTokens('-3'));
    assert.ok('error' in parseTargetTokens('lots'));
  });
});

describe('argumentToAmount', () => {
  it('accepts command arguments in the forms keybindings and tests use', () => {
    assert.deepEqual(argumentToAmount({ rate: 0.33 }), { rate: 0.33 });
    assert.deepEqual(argumentToAmount({ targetTokens: 300 }), { targetTokens: 300 });
    assert.deepEqual(argumentToAmount('3x'), { rate: 0.3333 });
    assert.deepEqual(argumentToAmount(0.2), { rate: 0.2 });
    assert.equal(argumentToAmount(undefined), undefined);
    assert.equal(argumentToAmount({ rate: 2 }), undefined);
    assert.equal(argumentToAmount({ targetTokens: 0 }), undefined);
  });
});

describe('describeAmount', () => {
  it('reads well in progress titles', () => {
    assert.equal(describeAmount({ rate: 0.33 }), '3x (keep 33%)');
    assert.equal(describeAmount({ rate: 0.4 }), '2.5x (keep 40%)');
    assert.equal(describeAmount({ targetTokens: 1500 }), 'to fit 1,500 tokens');
  });
});

describe('argumentToTarget', () => {
  const range = { start: { line: 0, character: 0 }, end: { line: 40, character: 0 } };

  it("reads a code action's argument: document, range, version and amount", () => {
    assert.deepEqual(argumentToTarget({ uri: 'file:///p.prompt', range, version: 7, targetTokens: 900 }), {
      uri: 'file:///p.prompt',
      range,
      version: 7,
      amount: { targetTokens: 900 },
    });
    assert.equal(argumentToTarget({ uri: 'file:///p.prompt', range, version: null, rate: 0.5 })?.version, undefined);
  });

  it('leaves amounts without a document to the selection, and refuses broken ranges', () => {
    assert.equal(argumentToTarget({ rate: 0.5 }), undefined);
    assert.equal(argumentToTarget('3x'), undefined);
    assert.equal(argumentToTarget({ uri: 'file:///p.prompt', range: { start: { line: -1, character: 0 }, end: range.end }, rate: 0.5 }), undefined);
    assert.equal(argumentToTarget({ uri: 'file:///p.prompt', range, version: 1 }), undefined);
  });
});
