// Long requests (model load + compression) in a cancellable progress notification.
import * as vscode from 'vscode';
import { type LinguaServer, errorCode, errorMessage } from './client';
import { ErrorCodes } from './protocol';

export type Outcome<T> = { ok: true; value: T } | { ok: false; cancelled: boolean; code?: number; message: string };

/**
 * Runs a server command under `window.withProgress` with a Cancel button; cancelling sends
 * `$/cancelRequest`. The editor stays editable meanwhile (the notification is not modal).
 */
export async function withServerProgress<T>(server: LinguaServer, title: string, command: string, arg: object): Promise<Outcome<T>> {
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title, cancellable: true },
    async (progress, token): Promise<Outcome<T>> => {
      try {
        const value = await server.execute<T>(command, arg, token, progress);
        if (token.isCancellationRequested) {
          return { ok: false, cancelled: true, message: 'Cancelled.' };
        }
        return { ok: true, value };
      } catch (err) {
        const code = errorCode(err);
        const cancelled = token.isCancellationRequested || code === ErrorCodes.RequestCancelled;
        const out: Outcome<T> = { ok: false, cancelled, message: errorMessage(err) };
        return code === undefined ? out : { ...out, code };
      }
    },
  );
}

/** Tells the user about a failed request (nothing for a cancellation but a short status message). */
export function reportFailure(server: LinguaServer, what: string, outcome: { cancelled: boolean; code?: number; message: string }): void {
  if (outcome.cancelled) {
    vscode.window.setStatusBarMessage(`Lingua: ${what} cancelled`, 4000);
    return;
  }
  server.log(`${what} failed: ${outcome.message}`);
  if (outcome.code === ErrorCodes.ContentModified) {
    void vscode.window.showWarningMessage(`Lingua: the document changed during ${what}; nothing was changed. Try again.`);
    return;
  }
  void vscode.window.showErrorMessage(`Lingua: ${what} failed: ${outcome.message}`, 'Show Log').then((pick) => {
    if (pick === 'Show Log') {
      server.output.show(true);
    }
  });
}
