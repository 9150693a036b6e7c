// "Lingua: Preview Compression": a diff editor, original vs compressed, with Apply and Discard.
// Apply never applies a stale result: only when the document's version is still the one the
// preview was computed on (checked right before the edit, nothing asynchronous in between).
// Code actions that rewrite a whole document (the over-budget quick fix) open it too, with
// their range and version as the command's argument.
import * as vscode from 'vscode';
import type { LinguaServer } from './client';
import { currentSettings } from './client';
import { askAmount, selectionOrTell } from './commands';
import { showApplied } from './feedback';
import { compressionSummary, formatInt } from './logic/format';
import { type Amount, type Target, argumentToAmount, argumentToTarget, describeAmount } from './logic/requests';
import { reportFailure, withServerProgress } from './progress';
import { Commands, type PreviewArgs, type PreviewResult } from './protocol';
import type { TokenStatus } from './statusBar';
import { type Disposable, lspRange, toRange } from './util';

export const PREVIEW_SCHEME = 'lingua-preview';

interface Pending {
  readonly id: number;
  readonly result: PreviewResult;
  readonly documentUri: vscode.Uri;
  readonly left: vscode.Uri;
  readonly right: vscode.Uri;
}

export class PreviewController implements vscode.Disposable, vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private pending: Pending | undefined;
  private nextId = 1;
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly disposables: Disposable[];

  constructor(
    private readonly server: LinguaServer,
    private readonly tokens: TokenStatus,
  ) {
    this.disposables = [
      this.changed,
      vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, this),
      vscode.commands.registerCommand('lingua.previewCompression', (arg: unknown) => this.preview(arg)),
      vscode.commands.registerCommand('lingua.preview.apply', () => this.apply()),
      vscode.commands.registerCommand('lingua.preview.discard', () => this.discard()),
    ];
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.texts.get(uri.toString()) ?? '';
  }

  /** Previews a code action's target (see {@link argumentToTarget}), else the selection. */
  async preview(arg: unknown): Promise<void> {
    const given = argumentToTarget(arg);
    if (given !== undefined) {
      await this.previewTarget(given);
      return;
    }
    const target = selectionOrTell('preview');
    if (target === undefined) {
      return;
    }
    const { editor, selection } = target;
    const amount = argumentToAmount(arg) ?? (await askAmount(currentSettings().tokenBudget, this.tokens.selectionTokens(editor), 'Lingua: Preview Compression'));
    if (amount === undefined) {
      return;
    }
    const doc = editor.document;
    await this.run(doc.uri, { uri: doc.uri.toString(), range: lspRange(selection), ...amount }, amount);
  }

  private async previewTarget(target: Target): Promise<void> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.uri);
    if (doc === undefined) {
      void vscode.window.showInformationMessage('Lingua: that document is no longer open; nothing was changed.');
      return;
    }
    // The version the action was offered for: the server refuses a document that changed since.
    const request: PreviewArgs = { uri: target.uri, range: target.range, ...target.amount };
    await this.run(doc.uri, target.version === undefined ? request : { ...request, version: target.version }, target.amount);
  }

  private async run(documentUri: vscode.Uri, request: PreviewArgs, amount: Amount): Promise<void> {
    const outcome = await withServerProgress<PreviewResult>(this.server, `Lingua: previewing ${describeAmount(amount)}`, Commands.preview, request);
    if (!outcome.ok) {
      reportFailure(this.server, 'the preview', outcome);
      return;
    }
    await this.show(documentUri, outcome.value);
  }

  private async show(documentUri: vscode.Uri, result: PreviewResult): Promise<void> {
    await this.closeTabs();
    const id = this.nextId++;
    const base = documentUri.path.split('/').pop() ?? 'prompt';
    const left = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${id}/original/${base}` });
    const right = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${id}/compressed/${base}` });
    this.texts.set(left.toString(), result.originalText);
    this.texts.set(right.toString(), result.compressedText);
    this.pending = { id, result, documentUri, left, right };
    await vscode.commands.executeCommand('setContext', 'lingua.previewOpen', true);
    const summary = `${formatInt(result.originTokens)} → ${formatInt(result.compressedTokens)} tokens, ${result.ratio.toFixed(1)}x`;
    await vscode.commands.executeCommand('vscode.diff', left, right, `${base}: original ↔ compressed (${summary})`, { preview: false });
    const pick = await vscode.window.showInformationMessage(`Lingua preview: ${compressionSummary(result)}.`, 'Apply', 'Discard');
    // The message may outlive the preview (a newer preview, or Apply from the title bar).
    if (!this.isCurrent(id)) {
      return;
    }
    if (pick === 'Apply') {
      await this.apply();
    } else if (pick === 'Discard') {
      await this.discard();
      vscode.window.setStatusBarMessage('Lingua: compression discarded; the document is unchanged', 4000);
    }
  }

  private isCurrent(id: number): boolean {
    return this.pending?.id === id;
  }

  /** Applies the pending preview if its document is still at the previewed version. */
  async apply(): Promise<boolean> {
    const pending = this.pending;
    if (pending === undefined) {
      void vscode.window.showInformationMessage('Lingua: no compression preview to apply.');
      return false;
    }
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === pending.documentUri.toString());
    const range = toRange(pending.result.range);
    // Both checks and applyEdit run in one synchronous stretch: no edit can slip in between.
    if (doc?.version !== pending.result.version || doc.getText(range) !== pending.result.originalText) {
      const pick = await vscode.window.showWarningMessage(
        'Lingua: the document changed since the preview, so the compression was not applied. Run the preview again.',
        'Discard Preview',
      );
      if (pick === 'Discard Preview') {
        await this.discard();
      }
      return false;
    }
    const edit = new vscode.WorkspaceEdit();
    edit.replace(doc.uri, range, pending.result.compressedText);
    const applied = await vscode.workspace.applyEdit(edit);
    if (!applied) {
      void vscode.window.showWarningMessage('Lingua: VS Code refused the edit; the document is unchanged.');
      return false;
    }
    await this.discard();
    await vscode.window.showTextDocument(doc);
    const end = doc.positionAt(doc.offsetAt(range.start) + pending.result.compressedText.length);
    showApplied({ ...pending.result, uri: doc.uri.toString(), range: lspRange(new vscode.Range(range.start, end)) });
    return true;
  }

  async discard(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    await vscode.commands.executeCommand('setContext', 'lingua.previewOpen', false);
    await this.closeTabs();
    if (pending !== undefined) {
      this.texts.delete(pending.left.toString());
      this.texts.delete(pending.right.toString());
    }
  }

  private async closeTabs(): Promise<void> {
    const tabs = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .filter((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === PREVIEW_SCHEME);
    if (tabs.length > 0) {
      await vscode.window.tabGroups.close(tabs);
    }
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
