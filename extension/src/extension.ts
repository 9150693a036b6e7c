// Lingua's VS Code client: starts the Python language server and wires its features into the UI.
import * as vscode from 'vscode';
import { LinguaServer } from './client';
import { registerCommands } from './commands';
import { registerFeedback } from './feedback';
import { HeatView } from './heat';
import { registerMessages } from './messages';
import { PreviewController } from './preview';
import { ModelStatusItem, TokenStatus } from './statusBar';

let server: LinguaServer | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Lingua', { log: true });
  server = new LinguaServer(context.extensionPath, output);
  const tokens = new TokenStatus(server);
  context.subscriptions.push(
    output,
    server,
    tokens,
    new ModelStatusItem(server),
    new PreviewController(server, tokens),
    new HeatView(server),
    ...registerCommands(server, tokens),
    ...registerFeedback(),
    ...registerMessages(),
  );
  await server.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
