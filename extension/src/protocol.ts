// Types of Lingua's LSP contract (docs/protocol.md): commands, results, notification.

export interface LspPosition {
  line: number;
  character: number;
}
export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export const Commands = {
  compress: 'lingua.compress',
  preview: 'lingua.preview',
  keepProbabilities: 'lingua.keepProbabilities',
  countTokens: 'lingua.countTokens',
  restartModel: 'lingua.restartModel',
} as const;

/** Commands the client runs itself, declared to the server in `initializationOptions.clientCommands`. */
export const ClientCommands = {
  compressionApplied: 'lingua.compressionApplied',
  /** Code actions that rewrite a whole document carry this command: the diff first, then Apply. */
  previewCompression: 'lingua.previewCompression',
  /** Messages about a setting get `window/showMessageRequest` with an {@link OpenSettingsAction}. */
  openSettings: 'lingua.openSettings',
} as const;

/** The "Open Settings" action of a server message: the `lingua.*` keys at fault. */
export interface OpenSettingsAction {
  title: string;
  settings: string[];
}

/** The argument of `lingua.previewCompression` in a code action: what to compress, of which version. */
export interface PreviewTarget {
  uri: string;
  range: LspRange;
  version: number | null;
  rate?: number;
  targetTokens?: number;
}

/** The argument of `lingua.compressionApplied`: the new text's range once the edit is in. */
export interface CompressionApplied {
  uri: string;
  range: LspRange;
  originTokens: number;
  compressedTokens: number;
  ratio: number;
  method: string;
  seconds: number;
  /** Seconds the compression waited for the model to load (0 when it was loaded). */
  loadSeconds?: number;
}

export interface CompressArgs {
  uri: string;
  range: LspRange;
  version?: number;
  rate?: number;
  targetTokens?: number;
  apply?: boolean;
}

export interface CompressResult {
  applied: boolean;
  reason?: string;
  compressedText: string;
  originTokens: number;
  compressedTokens: number;
  ratio: number;
  seconds: number;
  loadSeconds?: number;
  method: string;
  model: string;
  version: number;
  /** Where the new text lies once the edit is in. */
  insertedRange: LspRange;
}

export interface PreviewArgs {
  uri: string;
  range: LspRange;
  /** Refused with ContentModified when the document is no longer at this version. */
  version?: number;
  rate?: number;
  targetTokens?: number;
}

export interface PreviewResult {
  originalText: string;
  compressedText: string;
  originTokens: number;
  compressedTokens: number;
  ratio: number;
  seconds: number;
  loadSeconds?: number;
  method: string;
  model: string;
  uri: string;
  range: LspRange;
  version: number;
}

export interface KeepProbabilitiesArgs {
  uri: string;
  range: LspRange;
  rate?: number;
}

export interface WordProbability {
  range: LspRange;
  probability: number;
  kept: boolean;
}

export interface KeepProbabilitiesResult {
  uri: string;
  version: number;
  words: WordProbability[];
}

/**
 * `{uri, range?}` counts an open document (or its range), `{text}` a string. `ifPromptFile: true`
 * counts only if the server's `promptFiles` globs make the document a prompt file, else the
 * answer is {@link NotAPromptFile}: the client never matches the globs itself.
 */
export type CountTokensArgs = { uri: string; range?: LspRange; ifPromptFile?: boolean } | { text: string };

export interface CountTokensResult {
  tokens: number;
  encoding: string;
  /** True when `encoding` stands in for the target model's own tokenizer (Claude, Gemini): an estimate. */
  approximate: boolean;
  targetModel: string;
  costUsd: number;
  contextWindow: number;
  /** Whether the document is a prompt file; absent for `{text}`. */
  promptFile?: boolean;
}

/** The answer to `{uri, ifPromptFile: true}` for a document that is not a prompt file (or not open). */
export interface NotAPromptFile {
  promptFile: false;
}

export type CountTokensIfPromptFileResult = (CountTokensResult & { promptFile: true }) | NotAPromptFile;

export const ModelStatusNotification = 'lingua/modelStatus';

export interface ModelStatus {
  state: 'unloaded' | 'loading' | 'ready' | 'failed';
  model: string;
  device?: string;
  method?: string;
  message?: string;
  /** When failed: the setting to fix (`lingua.model` or `lingua.device`). */
  setting?: string;
}

/** LSP error codes the contract uses. */
export const ErrorCodes = {
  InvalidParams: -32602,
  RequestCancelled: -32800,
  ContentModified: -32801,
  RequestFailed: -32803,
} as const;
