// What the user sees once a compression's edit has landed, whatever started it (the command,
// a light-bulb action, the quick fix): the "N → M tokens" message, and the new text scrolled
// into view and briefly highlighted, so the result is never left off-screen.
import * as vscode from 'vscode';
import { compressionSummary } from './logic/format';
import { ClientCommands, type CompressionApplied } from './protocol';
import { type Disposable, toRange } from './util';

const HIGHLIGHT_MS = 1500;

const highlight = vscode.window.createTextEditorDecorationType({
  backgroundColor: new vscode.ThemeColor('editor.findMatchHighlightBackground'),
  isWholeLine: false,
});

/** The message, then the new text selected, revealed (centred if it is off-screen) and highlighted. */
export function showApplied(applied: CompressionApplied): void {
  vscode.window.setStatusBarMessage(`$(check) Lingua: ${compressionSummary(applied)}`, 8000);
  const editor = vscode.window.visibleTextEditors.find((e) => e.document.uri.toString() === applied.uri);
  if (editor === undefined) {
    return;
  }
  const range = editor.document.validateRange(toRange(applied.range));
  editor.selection = new vscode.Selection(range.start, range.end); // its count shows in the status bar
  editor.revealRange(range, vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  editor.setDecorations(highlight, [range]);
  setTimeout(() => { editor.setDecorations(highlight, []); }, HIGHLIGHT_MS);
}

function isApplied(arg: unknown): arg is CompressionApplied {
  if (typeof arg !== 'object' || arg === null) {
    return false;
  }
  const a = arg as Record<string, unknown>;
  return typeof a.uri === 'string' && typeof a.range === 'object' && a.range !== null &&
    ['originTokens', 'compressedTokens', 'ratio', 'seconds'].every((k) => typeof a[k] === 'number') && typeof a.method === 'string';
}

/** The client-side command the server attaches to a resolved code action (run after its edit). */
export function registerFeedback(): Disposable[] {
  return [
    highlight,
    vscode.commands.registerCommand(ClientCommands.compressionApplied, (arg: unknown) => {
      if (isApplied(arg)) {
        showApplied(arg);
      }
    }),
  ];
}
