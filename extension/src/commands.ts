// Commands: Compress Selection…, Count Tokens, Restart Server, Show Server Log.
import * as vscode from 'vscode';
import type { LinguaServer } from './client';
import { currentSettings, errorMessage } from './client';
import { compressionSummary, formatInt, formatUsd } from './logic/format';
import { type Amount, type PickItem, argumentToAmount, describeAmount, parseRate, parseTargetTokens, pickItems, pickToAmount } from './logic/requests';
import { showApplied } from './feedback';
import { reportFailure, withServerProgress } from './progress';
import { Commands, type CompressArgs, type CompressResult, type CountTokensResult } from './protocol';
import type { TokenStatus } from './statusBar';
import { type Disposable, lspRange } from './util';

/** The editor and a non-empty selection, or a message and undefined. */
export function selectionOrTell(verb: string): { editor: vscode.TextEditor; selection: vscode.Selection } | undefined {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage(`Lingua: open a document and select the text to ${verb}.`);
    return undefined;
  }
  if (editor.selection.isEmpty) {
    void vscode.window.showInformationMessage(`Lingua: select the text to ${verb} first.`);
    return undefined;
  }
  return { editor, selection: editor.selection };
}

/**
 * Asks how much to compress: the quick pick, then an input box for "fit N tokens" and
 * "custom rate". Undefined when the user cancels.
 */
export async function askAmount(budget: number, selectionTokens: number | undefined, title: string): Promise<Amount | undefined> {
  type Item = vscode.QuickPickItem & { item: PickItem };
  const items: Item[] = pickItems(budget, selectionTokens).map((item) => ({ label: item.label, description: item.description, item }));
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder: 'How much to compress' });
  if (picked === undefined) {
    return undefined;
  }
  let typed: string | undefined;
  if (picked.item.kind === 'fit') {
    typed = await vscode.window.showInputBox({
      title,
      prompt: 'Target size of the selection, in tokens of the target model',
      value: String(picked.item.targetTokens ?? budget),
      validateInput: (v) => {
        const r = parseTargetTokens(v);
        return 'error' in r ? r.error : undefined;
      },
    });
  } else if (picked.item.kind === 'custom') {
    typed = await vscode.window.showInputBox({
      title,
      prompt: 'Share of tokens kept (0.25 or 25%) or a compression factor (4x)',
      value: String(currentSettings().rate),
      validateInput: (v) => {
        const r = parseRate(v);
        return 'error' in r ? r.error : undefined;
      },
    });
  }
  const amount = pickToAmount(picked.item, typed);
  return amount === undefined || 'error' in amount ? undefined : amount;
}

async function compressSelection(server: LinguaServer, tokens: TokenStatus, arg: unknown): Promise<void> {
  const target = selectionOrTell('compress');
  if (target === undefined) {
    return;
  }
  const { editor, selection } = target;
  const settings = currentSettings();
  const amount = argumentToAmount(arg) ?? (await askAmount(settings.tokenBudget, tokens.selectionTokens(editor), 'Lingua: Compress Selection'));
  if (amount === undefined) {
    return;
  }
  const doc = editor.document;
  // The version the selection belongs to: the server applies its edit only to this version.
  const request: CompressArgs = { uri: doc.uri.toString(), range: lspRange(selection), version: doc.version, apply: true, ...amount };
  const outcome = await withServerProgress<CompressResult>(server, `Lingua: compressing ${describeAmount(amount)}`, Commands.compress, request);
  if (!outcome.ok) {
    reportFailure(server, 'compression', outcome);
    return;
  }
  const r = outcome.value;
  server.log(`compress ${doc.uri.toString()}: ${compressionSummary(r)}; applied=${String(r.applied)}${r.reason !== undefined ? ` (${r.reason})` : ''}`);
  if (r.applied) {
    showApplied({ ...r, uri: doc.uri.toString(), range: r.insertedRange });
  } else {
    const why = r.reason ?? 'the document changed while compressing';
    void vscode.window.showWarningMessage(`Lingua did not apply the compression: ${why}. The document is unchanged.`);
  }
}

async function showTokenCount(server: LinguaServer): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (editor === undefined) {
    void vscode.window.showInformationMessage('Lingua: open a document to count its tokens.');
    return;
  }
  const doc = editor.document;
  const sel = editor.selection.isEmpty ? undefined : editor.selection;
  try {
    const r = await server.execute<CountTokensResult>(
      Commands.countTokens,
      sel === undefined ? { uri: doc.uri.toString() } : { uri: doc.uri.toString(), range: lspRange(sel) },
    );
    const what = sel === undefined ? 'Document' : 'Selection';
    const share = r.contextWindow > 0 ? ((100 * r.tokens) / r.contextWindow).toFixed(2) : '?';
    void vscode.window.showInformationMessage(
      `${what}: ${formatInt(r.tokens)} tokens for ${r.targetModel} (${r.encoding}), ${formatUsd(r.costUsd)} per call, ` +
        `${formatUsd(r.costUsd * 1000)} per 1,000 calls, ${share}% of the ${formatInt(r.contextWindow)}-token context window.`,
    );
  } catch (err) {
    void vscode.window.showErrorMessage(`Lingua could not count tokens: ${errorMessage(err)}`);
  }
}

export function registerCommands(server: LinguaServer, tokens: TokenStatus): Disposable[] {
  return [
    vscode.commands.registerCommand('lingua.compressSelection', (arg: unknown) => compressSelection(server, tokens, arg)),
    vscode.commands.registerCommand('lingua.showTokenCount', () => showTokenCount(server)),
    vscode.commands.registerCommand('lingua.restartServer', async () => {
      await server.restart();
      if (server.running !== undefined) {
        vscode.window.setStatusBarMessage('$(check) Lingua: server restarted', 4000);
      }
    }),
    vscode.commands.registerCommand('lingua.showOutput', () => { server.output.show(true); }),
  ];
}
