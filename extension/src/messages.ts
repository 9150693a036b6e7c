// The server's messages with buttons. A warning about a setting (an invalid value, a model
// that cannot load) comes as `window/showMessageRequest` with an "Open Settings" action that
// names the `lingua.*` keys at fault (docs/protocol.md); picking it opens the Settings editor
// filtered to them. The client's own problems (no usable Python) use the same command.
import * as vscode from 'vscode';
import { type MessageActionItem, MessageType, type ShowMessageRequestParams } from 'vscode-languageclient/node';
import { settingsQuery } from './logic/format';
import { ClientCommands, type OpenSettingsAction } from './protocol';
import type { Disposable } from './util';

function isOpenSettings(item: MessageActionItem | undefined): item is MessageActionItem & OpenSettingsAction {
  const settings = (item as { settings?: unknown } | undefined)?.settings;
  return Array.isArray(settings) && settings.every((s) => typeof s === 'string');
}

/** Opens the Settings editor at `keys` (e.g. `lingua.method`). */
export function openSettings(keys: readonly string[]): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', settingsQuery(keys));
}

/**
 * Shows a `window/showMessageRequest` as the language client would, and runs an "Open
 * Settings" action itself when it is picked; the pick still goes back to the server.
 */
export async function showServerMessage(params: ShowMessageRequestParams): Promise<MessageActionItem | undefined> {
  const show =
    params.type === MessageType.Error
      ? vscode.window.showErrorMessage
      : params.type === MessageType.Warning
        ? vscode.window.showWarningMessage
        : vscode.window.showInformationMessage;
  const picked = await show<MessageActionItem>(params.message, ...(params.actions ?? []));
  if (isOpenSettings(picked)) {
    await openSettings(picked.settings);
  }
  return picked;
}

export function registerMessages(): Disposable[] {
  return [
    vscode.commands.registerCommand(ClientCommands.openSettings, (keys: unknown) =>
      openSettings(Array.isArray(keys) ? keys.filter((k): k is string => typeof k === 'string') : typeof keys === 'string' ? [keys] : []),
    ),
  ];
}
