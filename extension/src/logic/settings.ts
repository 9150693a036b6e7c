// The `lingua.*` settings as the server reads them (docs/protocol.md, "Settings"): pure logic.

export type Device = 'auto' | 'cpu' | 'cuda' | `cuda:${number}` | 'mps';
export type Method = 'auto' | 'llmlingua' | 'longllmlingua' | 'llmlingua2';
export type RankMethod = 'fused' | 'longllmlingua' | 'bm25' | 'embedding';

export interface ServerSettings {
  model: string;
  device: Device;
  method: Method;
  rankMethod: RankMethod;
  rate: number;
  targetModel: string;
  tokenBudget: number;
  promptFiles: string[];
  preserve: string[];
  keepCodeBlocks: boolean;
  unprotect: string[];
  warmUp: boolean;
}

export const DEFAULT_SETTINGS: Readonly<ServerSettings> = Object.freeze({
  model: 'embedded',
  device: 'auto',
  method: 'auto',
  rankMethod: 'fused',
  rate: 0.33,
  targetModel: 'gpt-4o',
  tokenBudget: 4000,
  promptFiles: [
    '**/*.prompt',
    '**/*.prompt.md',
    '**/*.prompty',
    '**/*.jinja2',
    '**/*.j2',
    '**/prompts/**/*.md',
    '**/prompts/**/*.txt',
  ],
  preserve: [],
  keepCodeBlocks: true,
  unprotect: [],
  warmUp: true,
});

/** Keys the server reads (the client-only `python` is not sent in initializationOptions). */
export const SERVER_KEYS = Object.freeze(Object.keys(DEFAULT_SETTINGS) as (keyof ServerSettings)[]);

/** Settings whose change needs a new server process (new interpreter or model). */
export const RESTART_KEYS = Object.freeze(['python', 'model', 'device'] as const);

const DEVICE_RE = /^(auto|cpu|cuda(:\d+)?|mps)$/;
const METHODS: readonly string[] = ['auto', 'llmlingua', 'longllmlingua', 'llmlingua2'];
const RANK_METHODS: readonly string[] = ['fused', 'longllmlingua', 'bm25', 'embedding'];

function stringList(value: unknown): string[] | undefined {
  return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...(value)] : undefined;
}

/**
 * Maps raw configuration values (as `WorkspaceConfiguration.get` returns them) to the object
 * sent as `initializationOptions.settings`. A value of the wrong type or out of range falls
 * back to its default, as the server does, so the client's own uses (status bar, quick pick)
 * agree with the server's.
 */
export function toServerSettings(get: (key: string) => unknown): ServerSettings {
  const d = DEFAULT_SETTINGS;
  const str = (key: string, fallback: string): string => {
    const v = get(key);
    return typeof v === 'string' && v.trim().length > 0 ? v.trim() : fallback;
  };
  const device = str('device', d.device);
  const method = str('method', d.method);
  const rankMethod = str('rankMethod', d.rankMethod).toLowerCase();
  const rate = get('rate');
  const budget = get('tokenBudget');
  const keep = get('keepCodeBlocks');
  const warmUp = get('warmUp');
  return {
    model: str('model', d.model),
    device: (DEVICE_RE.test(device) ? device : d.device) as Device,
    method: (METHODS.includes(method) ? method : d.method) as Method,
    rankMethod: (RANK_METHODS.includes(rankMethod) ? rankMethod : d.rankMethod) as RankMethod,
    rate: typeof rate === 'number' && Number.isFinite(rate) && rate > 0 && rate <= 1 ? rate : d.rate,
    targetModel: str('targetModel', d.targetModel),
    tokenBudget: typeof budget === 'number' && Number.isInteger(budget) && budget >= 1 ? budget : d.tokenBudget,
    promptFiles: stringList(get('promptFiles')) ?? [...d.promptFiles],
    preserve: stringList(get('preserve')) ?? [...d.preserve],
    keepCodeBlocks: typeof keep === 'boolean' ? keep : d.keepCodeBlocks,
    unprotect: stringList(get('unprotect')) ?? [...d.unprotect],
    warmUp: typeof warmUp === 'boolean' ? warmUp : d.warmUp,
  };
}

/** Whether a configuration change needs the server restarted. */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_KEYS.some((key) => affects(`lingua.${key}`));
}
