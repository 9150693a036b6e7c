// Status bar: token count of the active prompt file and of the selection (target model's
// encoding, via lingua.countTokens), cost in the tooltip; and the model's status. Whether a
// document is a prompt file is the server's answer (`ifPromptFile`), never matched here.
import * as vscode from 'vscode';
import type { LinguaServer, ServerState } from './client';
import { currentSettings, errorMessage } from './client';
import { type ModelState, type TokenCount, debounce, modelStatusText, statusText, statusTooltip } from './logic/format';
import {
  Commands,
  type CountTokensArgs,
  type CountTokensIfPromptFileResult,
  type CountTokensResult,
  type ModelStatus,
} from './protocol';
import { type Disposable, lspRange } from './util';

const DEBOUNCE_MS = 250;

export class TokenStatus implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lingua.tokens', vscode.StatusBarAlignment.Right, 100);
  private readonly disposables: Disposable[] = [this.item];
  private inflight: vscode.CancellationTokenSource | undefined;
  /**
   * File count cache: uri + version → the count, or undefined when the server says the document
   * is not a prompt file; so selection moves cost one small request.
   */
  private fileCache: { key: string; count: TokenCount | undefined } | undefined;
  private lastSelection: { key: string; count: TokenCount } | undefined;
  private readonly schedule = debounce(() => void this.refresh(), DEBOUNCE_MS);

  constructor(private readonly server: LinguaServer) {
    this.item.name = 'Lingua token count';
    this.item.command = 'lingua.showTokenCount';
    this.disposables.push(
      // A newly opened or focused file is counted at once; selections and typing come in bursts.
      vscode.window.onDidChangeActiveTextEditor(() => {
        this.schedule.cancel();
        void this.refresh();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor === vscode.window.activeTextEditor) {
          this.schedule();
        }
      }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.document === vscode.window.activeTextEditor?.document && e.contentChanges.length > 0) {
          this.schedule();
        }
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('lingua')) {
          this.fileCache = undefined;
          this.lastSelection = undefined;
          this.schedule();
        }
      }),
      server.onDidChangeState(() => {
        this.fileCache = undefined;
        this.schedule();
      }),
      { dispose: () => { this.schedule.cancel(); } },
    );
    this.schedule();
  }

  /** The selection's token count when it is current (for the quick pick's descriptions). */
  selectionTokens(editor: vscode.TextEditor): number | undefined {
    const key = `${editor.document.uri.toString()}@${editor.document.version}:${JSON.stringify(lspRange(editor.selection))}`;
    return this.lastSelection?.key === key ? this.lastSelection.count.tokens : undefined;
  }

  private async refresh(): Promise<void> {
    this.inflight?.cancel();
    const editor = vscode.window.activeTextEditor;
    const client = this.server.running;
    if (editor === undefined || client === undefined) {
      this.item.hide();
      return;
    }
    const doc = editor.document;
    const settings = currentSettings();
    const selection = editor.selection.isEmpty ? undefined : editor.selection;
    const cts = new vscode.CancellationTokenSource();
    this.inflight = cts;
    const uri = doc.uri.toString();
    const fileKey = `${uri}@${doc.version}`;
    const selKey = selection === undefined ? undefined : `${fileKey}:${JSON.stringify(lspRange(selection))}`;
    try {
      const count = <T>(args: CountTokensArgs): Promise<T> => this.server.execute<T>(Commands.countTokens, args, cts.token);
      let file: TokenCount | undefined;
      if (this.fileCache?.key === fileKey) {
        file = this.fileCache.count;
      } else {
        const answer = await count<CountTokensIfPromptFileResult>({ uri, ifPromptFile: true });
        file = answer.promptFile ? answer : undefined;
        this.fileCache = { key: fileKey, count: file };
      }
      let sel: TokenCount | undefined;
      if (selection !== undefined && selKey !== undefined) {
        if (this.lastSelection?.key === selKey) {
          sel = this.lastSelection.count;
        } else {
          sel = await count<CountTokensResult>({ uri, range: lspRange(selection) });
          this.lastSelection = { key: selKey, count: sel };
        }
      }
      if (cts.token.isCancellationRequested) {
        return;
      }
      if (file === undefined && sel === undefined) {
        this.item.hide(); // not a prompt file, nothing selected
        return;
      }
      this.item.text = statusText(file, sel);
      const tip = new vscode.MarkdownString(statusTooltip(file, sel, settings.tokenBudget));
      this.item.tooltip = tip;
      this.item.backgroundColor =
        file !== undefined && file.tokens > settings.tokenBudget ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
      this.item.show();
    } catch (err) {
      if (cts.token.isCancellationRequested) {
        return;
      }
      this.server.log(`Token count failed: ${errorMessage(err)}`);
      this.item.text = '$(symbol-numeric) tokens: n/a';
      this.item.tooltip = `Lingua could not count tokens: ${errorMessage(err)}`;
      this.item.show();
    } finally {
      if (this.inflight === cts) {
        this.inflight = undefined;
      }
      cts.dispose();
    }
  }

  dispose(): void {
    this.inflight?.cancel();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

/**
 * The model's state from `lingua/modelStatus` (a spinner while it loads). The load's progress
 * is the server's: its warm-up reports `$/progress`, a compression's load shows in the
 * compression's notification.
 */
export class ModelStatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('lingua.model', vscode.StatusBarAlignment.Right, 99);
  private readonly disposables: Disposable[] = [this.item];

  constructor(server: LinguaServer) {
    this.item.name = 'Lingua model status';
    this.item.command = 'lingua.showOutput';
    this.disposables.push(
      server.onDidChangeModelStatus((s) => { this.onModel(s); }),
      server.onDidChangeState((s) => { this.onServer(s); }),
    );
    this.onServer(server.state);
  }

  private show(state: ModelState, tooltip: string): void {
    this.item.text = modelStatusText(state);
    this.item.tooltip = tooltip;
    this.item.backgroundColor = state === 'failed' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.show();
  }

  private onServer(state: ServerState): void {
    if (state === 'starting') {
      this.show('starting', 'Lingua: starting the server…');
    } else if (state === 'failed') {
      this.show('failed', 'Lingua: the server could not start. Click for the log.');
    } else if (state === 'stopped') {
      this.show('stopped', 'Lingua: the server is stopped. Run "Lingua: Restart Server".');
    } else if (this.item.text === modelStatusText('starting')) {
      this.show('unloaded', 'Lingua: server running; the model loads on first use.');
    }
  }

  private onModel(status: ModelStatus): void {
    const details = [
      `Model: ${status.model}`,
      status.device !== undefined ? `Device: ${status.device}` : undefined,
      status.method !== undefined ? `Method: ${status.method}` : undefined,
      status.message,
    ].filter((l): l is string => l !== undefined);
    this.show(status.state, `Lingua model ${status.state}\n${details.join('\n')}\nClick for the server log.`);
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
