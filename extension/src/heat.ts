// "Lingua: Show What Will Be Dropped": words coloured by keep probability, dropped words struck
// through; cleared when the document is edited or by "Lingua: Clear What Will Be Dropped".
import * as vscode from 'vscode';
import type { LinguaServer } from './client';
import { currentSettings } from './client';
import { heatBucket } from './logic/format';
import { argumentToAmount } from './logic/requests';
import { reportFailure, withServerProgress } from './progress';
import { Commands, type KeepProbabilitiesArgs, type KeepProbabilitiesResult } from './protocol';
import { type Disposable, lspRange, toRange } from './util';

/** Background per probability bucket, from likely dropped (red) to surely kept (green). */
const BUCKET_COLOURS = ['rgba(229, 57, 53, 0.45)', 'rgba(244, 132, 42, 0.38)', 'rgba(236, 196, 46, 0.32)', 'rgba(139, 195, 74, 0.28)', 'rgba(67, 160, 71, 0.22)'];

export class HeatView implements vscode.Disposable {
  private readonly buckets = BUCKET_COLOURS.map((backgroundColor) =>
    vscode.window.createTextEditorDecorationType({ backgroundColor, borderRadius: '2px' }),
  );
  private readonly dropped = vscode.window.createTextEditorDecorationType({
    textDecoration: 'line-through',
    opacity: '0.65',
    overviewRulerColor: 'rgba(229, 57, 53, 0.8)',
    overviewRulerLane: vscode.OverviewRulerLane.Right,
  });
  /** Documents (uri strings) that show the heat view. */
  private readonly shown = new Set<string>();
  private readonly disposables: Disposable[];

  constructor(private readonly server: LinguaServer) {
    this.disposables = [
      ...this.buckets,
      this.dropped,
      vscode.commands.registerCommand('lingua.showDropped', (arg: unknown) => this.show(arg)),
      vscode.commands.registerCommand('lingua.clearDropped', () => { this.clearAll(); }),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 && this.shown.has(e.document.uri.toString())) {
          this.clear(e.document.uri.toString());
        }
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.shown.delete(d.uri.toString())),
    ];
  }

  async show(arg: unknown): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined) {
      void vscode.window.showInformationMessage('Lingua: open a document to see what compression would drop.');
      return;
    }
    const doc = editor.document;
    const amount = argumentToAmount(arg);
    const rate = amount !== undefined && 'rate' in amount ? amount.rate : currentSettings().rate;
    const range = editor.selection.isEmpty ? new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)) : editor.selection;
    const request: KeepProbabilitiesArgs = { uri: doc.uri.toString(), range: lspRange(range), rate };
    const outcome = await withServerProgress<KeepProbabilitiesResult>(
      this.server,
      `Lingua: scoring words (keep ${Math.round(rate * 100)}%)`,
      Commands.keepProbabilities,
      request,
    );
    if (!outcome.ok) {
      reportFailure(this.server, 'scoring', outcome);
      return;
    }
    const result = outcome.value;
    if (doc.version !== result.version) {
      void vscode.window.showWarningMessage('Lingua: the document changed while scoring; run "Show What Will Be Dropped" again.');
      return;
    }
    const perBucket: vscode.DecorationOptions[][] = this.buckets.map(() => []);
    const droppedRanges: vscode.DecorationOptions[] = [];
    for (const w of result.words) {
      const r = toRange(w.range);
      const hoverMessage = new vscode.MarkdownString(`Lingua: keep probability **${w.probability.toFixed(2)}**, ${w.kept ? 'kept' : '**dropped**'} at rate ${rate}`);
      perBucket[heatBucket(w.probability, this.buckets.length)]?.push({ range: r, hoverMessage });
      if (!w.kept) {
        droppedRanges.push({ range: r });
      }
    }
    const target = vscode.window.visibleTextEditors.filter((e) => e.document === doc);
    for (const e of target) {
      this.buckets.forEach((type, i) => { e.setDecorations(type, perBucket[i] ?? []); });
      e.setDecorations(this.dropped, droppedRanges);
    }
    this.shown.add(doc.uri.toString());
    await vscode.commands.executeCommand('setContext', 'lingua.droppedVisible', true);
    vscode.window.setStatusBarMessage(
      `Lingua: ${droppedRanges.length} of ${result.words.length} words would be dropped at rate ${rate} (Esc clears)`,
      10000,
    );
  }

  private clear(uri: string): void {
    for (const e of vscode.window.visibleTextEditors.filter((ed) => ed.document.uri.toString() === uri)) {
      for (const type of this.buckets) {
        e.setDecorations(type, []);
      }
      e.setDecorations(this.dropped, []);
    }
    this.shown.delete(uri);
    if (this.shown.size === 0) {
      void vscode.commands.executeCommand('setContext', 'lingua.droppedVisible', false);
    }
  }

  clearAll(): void {
    for (const uri of [...this.shown]) {
      this.clear(uri);
    }
    void vscode.commands.executeCommand('setContext', 'lingua.droppedVisible', false);
  }

  dispose(): void {
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}
