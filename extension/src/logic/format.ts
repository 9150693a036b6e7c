// Text of the status bar item and its tooltip: pure logic.

export interface TokenCount {
  readonly tokens: number;
  readonly encoding: string;
  /** The encoding stands in for the target model's own tokenizer: the counts are estimates. */
  readonly approximate?: boolean;
  readonly targetModel: string;
  readonly costUsd: number;
  readonly contextWindow: number;
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Dollars with enough digits to be meaningful for tiny per-call costs. */
export function formatUsd(usd: number): string {
  if (!Number.isFinite(usd)) {
    return 'n/a';
  }
  if (usd === 0) {
    return '$0';
  }
  if (usd >= 1) {
    return `$${usd.toFixed(2)}`;
  }
  if (usd >= 0.01) {
    return `$${usd.toFixed(3)}`;
  }
  return `$${usd.toPrecision(2)}`;
}

/** Status bar text: "1,234 tokens" or "1,234 tokens · 56 selected". */
export function statusText(file: TokenCount | undefined, selection: TokenCount | undefined): string {
  const parts: string[] = [];
  // "~" marks an estimate: the target model's own tokenizer is not the one counting.
  const about = (c: TokenCount): string => `${c.approximate === true ? '~' : ''}${formatInt(c.tokens)}`;
  if (file !== undefined) {
    parts.push(`${about(file)} tokens`);
  }
  if (selection !== undefined) {
    parts.push(file === undefined ? `${about(selection)} tokens selected` : `${about(selection)} selected`);
  }
  return `$(symbol-numeric) ${parts.join(' · ')}`;
}

/** Markdown tooltip: counts, encoding, cost per call and per 1,000 calls, context window share. */
export function statusTooltip(file: TokenCount | undefined, selection: TokenCount | undefined, budget: number): string {
  const any = file ?? selection;
  if (any === undefined) {
    return 'Lingua: no token count yet';
  }
  const lines = [`**Lingua** · ${any.targetModel} (\`${any.encoding}\`)`, ''];
  if (any.approximate === true) {
    lines.push(`Counts are estimates: ${any.targetModel}'s own tokenizer is not available, \`${any.encoding}\` stands in for it.`, '');
  }
  lines.push('| | tokens | cost per call | per 1,000 calls |', '|---|--:|--:|--:|');
  const row = (name: string, c: TokenCount): string =>
    `| ${name} | ${formatInt(c.tokens)} | ${formatUsd(c.costUsd)} | ${formatUsd(c.costUsd * 1000)} |`;
  if (file !== undefined) {
    lines.push(row('File', file));
  }
  if (selection !== undefined) {
    lines.push(row('Selection', selection));
  }
  lines.push('');
  if (file !== undefined) {
    const share = any.contextWindow > 0 ? (100 * file.tokens) / any.contextWindow : 0;
    lines.push(`Budget ${formatInt(budget)} tokens${file.tokens > budget ? ' (**over**)' : ''} · context window ${formatInt(any.contextWindow)} (${share.toFixed(share < 1 ? 2 : 1)}% used)`);
  } else {
    lines.push(`Context window ${formatInt(any.contextWindow)} tokens`);
  }
  lines.push('', 'Input-token price of the target model; click for Lingua: Count Tokens.');
  return lines.join('\n');
}

/** The numbers of a finished compression, as every result and feedback carries them. */
export interface CompressionNumbers {
  readonly originTokens: number;
  readonly compressedTokens: number;
  readonly ratio: number;
  readonly method: string;
  readonly seconds: number;
  readonly loadSeconds?: number | undefined;
}

/**
 * "1,430 → 477 tokens (3.0x, llmlingua) in 5.2 s", plus "(+ 11.6 s loading the model)" when
 * the compression waited for a load: the user waited for both, so both are told.
 */
export function compressionSummary(r: CompressionNumbers): string {
  const load = r.loadSeconds !== undefined && r.loadSeconds >= 0.05 ? ` (+ ${r.loadSeconds.toFixed(1)} s loading the model)` : '';
  return `${formatInt(r.originTokens)} → ${formatInt(r.compressedTokens)} tokens (${r.ratio.toFixed(1)}x, ${r.method}) in ${r.seconds.toFixed(1)} s${load}`;
}

/** The settings editor's search for `lingua.*` keys: exactly those settings (`@id:a,b`). */
export function settingsQuery(keys: readonly string[]): string {
  const ids = keys.filter((k) => /^lingua\.\w+$/.test(k));
  return ids.length > 0 ? `@id:${ids.join(',')}` : 'lingua.';
}

export type ModelState = 'unloaded' | 'loading' | 'ready' | 'failed' | 'starting' | 'stopped';

export function modelStatusText(state: ModelState): string {
  switch (state) {
    case 'loading':
      return '$(loading~spin) Lingua';
    case 'ready':
      return '$(check) Lingua';
    case 'failed':
      return '$(error) Lingua';
    case 'starting':
      return '$(loading~spin) Lingua';
    case 'stopped':
      return '$(circle-slash) Lingua';
    case 'unloaded':
      return '$(circle-outline) Lingua';
  }
}

/** Debounces a function: only the last call within `ms` runs. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): { (...args: A): void; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wrapped = (...args: A): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
    }
    timer = setTimeout(() => {
      timer = undefined;
      fn(...args);
    }, ms);
  };
  wrapped.cancel = (): void => {
    if (timer !== undefined) {
      clearTimeout(timer);
      timer = undefined;
    }
  };
  return wrapped;
}

/** Bucket 0..buckets-1 of a keep probability, for the heat view's colours. */
export function heatBucket(probability: number, buckets: number): number {
  const p = Number.isFinite(probability) ? Math.min(1, Math.max(0, probability)) : 0;
  return Math.min(buckets - 1, Math.floor(p * buckets));
}
