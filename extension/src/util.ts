// Small helpers shared by the UI modules.
import * as vscode from 'vscode';
import type { LspRange } from './protocol';

/** Anything with dispose(): status bar items, event subscriptions, decoration types. */
export interface Disposable {
  dispose(): unknown;
}

export function lspRange(r: vscode.Range): LspRange {
  return { start: { line: r.start.line, character: r.start.character }, end: { line: r.end.line, character: r.end.character } };
}

export function toRange(r: LspRange): vscode.Range {
  return new vscode.Range(r.start.line, r.start.character, r.end.line, r.end.character);
}
