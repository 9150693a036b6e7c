// Quick pick of "Lingua: Compress Selection…" to the request's rate / targetTokens, and the
// arguments commands get from elsewhere (code actions, keybindings): pure logic.
import type { LspRange } from '../protocol';

export type Amount = { readonly rate: number } | { readonly targetTokens: number };

export type PickKind = 'rate' | 'fit' | 'custom';

export interface PickItem {
  readonly label: string;
  readonly description: string;
  readonly kind: PickKind;
  /** For kind 'rate': the share of tokens kept. */
  readonly rate?: number;
  /** For kind 'fit': the token count offered (the input box starts with it). */
  readonly targetTokens?: number;
}

/**
 * The "fit N tokens" offer: the budget when the selection is over it; otherwise (a selection
 * already under budget, where fitting the budget would change nothing) half the selection.
 */
export function fitTarget(budget: number, selectionTokens?: number): number {
  if (selectionTokens === undefined || selectionTokens > budget) {
    return budget;
  }
  return Math.max(1, Math.round(selectionTokens / 2));
}

/** The quick pick's items: 2x / 3x / 5x, fit N tokens, custom rate (protocol's code-action rates). */
export function pickItems(budget: number, selectionTokens?: number): PickItem[] {
  const sel = selectionTokens === undefined ? '' : ` of ${selectionTokens.toLocaleString('en-US')}`;
  const fit = fitTarget(budget, selectionTokens);
  const keep = (rate: number): string =>
    selectionTokens === undefined ? `keep ${Math.round(rate * 100)}% of the tokens` : `about ${Math.round(rate * selectionTokens).toLocaleString('en-US')}${sel} tokens`;
  return [
    { label: '2x', description: keep(0.5), kind: 'rate', rate: 0.5 },
    { label: '3x', description: keep(0.33), kind: 'rate', rate: 0.33 },
    { label: '5x', description: keep(0.2), kind: 'rate', rate: 0.2 },
    { label: `Fit ${fit.toLocaleString('en-US')} tokens…`, description: 'compress to a token count', kind: 'fit', targetTokens: fit },
    { label: 'Custom rate…', description: 'a share kept (0.25, 25%) or a factor (4x)', kind: 'custom' },
  ];
}

/**
 * Parses a custom amount typed by the user: a share kept in (0, 1] (`0.25`), a percentage
 * (`25%`) or a compression factor (`4x`, factor >= 1). Returns an error message when invalid.
 */
export function parseRate(input: string): { rate: number } | { error: string } {
  const s = input.trim().toLowerCase().replace(/\s+/g, '');
  const err = { error: 'Type a share kept such as 0.25, a percentage such as 25%, or a factor such as 4x.' };
  if (s.length === 0) {
    return err;
  }
  let rate: number;
  if (s.endsWith('x') || s.endsWith('×')) {
    const factor = Number(s.slice(0, -1));
    if (!Number.isFinite(factor) || factor < 1) {
      return { error: 'A factor must be at least 1x.' };
    }
    rate = 1 / factor;
  } else if (s.endsWith('%')) {
    rate = Number(s.slice(0, -1)) / 100;
  } else {
    rate = Number(s);
  }
  if (!Number.isFinite(rate)) {
    return err;
  }
  if (rate <= 0 || rate > 1) {
    return { error: 'The share kept must be above 0 and at most 1 (100%).' };
  }
  return { rate: Math.round(rate * 10000) / 10000 };
}

/** Parses a token target: a positive integer (thousands separators allowed). */
export function parseTargetTokens(input: string): { targetTokens: number } | { error: string } {
  const s = input.trim().replace(/[,_\s]/g, '');
  if (!/^\d+$/.test(s)) {
    return { error: 'Type a whole number of tokens, such as 500.' };
  }
  const n = Number(s);
  if (n < 1) {
    return { error: 'The target must be at least 1 token.' };
  }
  return { targetTokens: n };
}

/**
 * The request amount for a picked item; `typed` is what the user typed in the follow-up input
 * box for 'fit' and 'custom' (undefined when the box was cancelled: no request).
 */
export function pickToAmount(item: PickItem, typed?: string): Amount | { error: string } | undefined {
  switch (item.kind) {
    case 'rate':
      return item.rate === undefined ? { error: 'no rate' } : { rate: item.rate };
    case 'fit':
      return typed === undefined ? undefined : parseTargetTokens(typed);
    case 'custom':
      return typed === undefined ? undefined : parseRate(typed);
  }
}

/**
 * An amount given directly as the command's argument (keybindings, tests): `{rate}`,
 * `{targetTokens}`, a number (rate) or a string such as "3x" / "0.33" / "25%".
 */
export function argumentToAmount(arg: unknown): Amount | undefined {
  if (typeof arg === 'number') {
    const r = parseRate(String(arg));
    return 'rate' in r ? r : undefined;
  }
  if (typeof arg === 'string') {
    const r = parseRate(arg);
    return 'rate' in r ? r : undefined;
  }
  if (typeof arg === 'object' && arg !== null) {
    const o = arg as { rate?: unknown; targetTokens?: unknown };
    if (typeof o.targetTokens === 'number' && Number.isInteger(o.targetTokens) && o.targetTokens >= 1) {
      return { targetTokens: o.targetTokens };
    }
    if (typeof o.rate === 'number' && o.rate > 0 && o.rate <= 1) {
      return { rate: o.rate };
    }
  }
  return undefined;
}

/** A short human label of an amount, for progress titles. */
export function describeAmount(amount: Amount): string {
  if ('targetTokens' in amount) {
    return `to fit ${amount.targetTokens.toLocaleString('en-US')} tokens`;
  }
  const factor = 1 / amount.rate;
  const shown = Math.abs(factor - Math.round(factor)) < 0.05 ? String(Math.round(factor)) : factor.toFixed(1);
  return `${shown}x (keep ${Math.round(amount.rate * 100)}%)`;
}

/** What a code action asks the preview to compress: a range of one version of a document. */
export interface Target {
  readonly uri: string;
  readonly range: LspRange;
  /** Undefined: whatever version the document has when the request arrives. */
  readonly version: number | undefined;
  readonly amount: Amount;
}

function isPosition(p: unknown): boolean {
  if (typeof p !== 'object' || p === null) {
    return false;
  }
  const { line, character } = p as { line?: unknown; character?: unknown };
  return [line, character].every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 0);
}

/**
 * The `{uri, range, version, rate | targetTokens}` a code action passes to
 * `lingua.previewCompression` (the server's action data); undefined for anything else, such as
 * a bare amount from a keybinding, which applies to the selection.
 */
export function argumentToTarget(arg: unknown): Target | undefined {
  if (typeof arg !== 'object' || arg === null) {
    return undefined;
  }
  const o = arg as { uri?: unknown; range?: unknown; version?: unknown };
  const range = o.range as { start?: unknown; end?: unknown } | null | undefined;
  if (typeof o.uri !== 'string' || typeof range !== 'object' || range === null || !isPosition(range.start) || !isPosition(range.end)) {
    return undefined;
  }
  const amount = argumentToAmount(arg);
  if (amount === undefined) {
    return undefined;
  }
  const version = typeof o.version === 'number' && Number.isInteger(o.version) ? o.version : undefined;
  return { uri: o.uri, range: o.range as LspRange, version, amount };
}
