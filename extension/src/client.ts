// Starts, restarts and talks to the Python language server.
import { randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import {
  type CancellationToken,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  ShowMessageRequest,
  State,
  TransportKind,
  WorkDoneProgress,
} from 'vscode-languageclient/node';
import { describeSource, explainFailure } from './logic/interpreter';
import { needsRestart, toServerSettings } from './logic/settings';
import { openSettings, showServerMessage } from './messages';
import { ClientCommands, type ModelStatus, ModelStatusNotification } from './protocol';
import { findInterpreter, serverEnv } from './python';
import type { Disposable } from './util';

export type ServerState = 'stopped' | 'starting' | 'running' | 'failed';

/** Documents the server sees: every file and untitled document (code actions work anywhere). */
const DOCUMENT_SELECTOR = [{ scheme: 'file' }, { scheme: 'untitled' }];

export class LinguaServer implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private starting: Promise<void> | undefined;
  private readonly disposables: Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
  private readonly modelEmitter = new vscode.EventEmitter<ModelStatus>();
  private _state: ServerState = 'stopped';
  /** Fires when the server process changes state (starting, running, ...). */
  readonly onDidChangeState = this.stateEmitter.event;
  /** Fires on each `lingua/modelStatus` notification. */
  readonly onDidChangeModelStatus = this.modelEmitter.event;

  constructor(
    private readonly extensionPath: string,
    readonly output: vscode.LogOutputChannel,
  ) {
    this.disposables.push(
      this.stateEmitter,
      this.modelEmitter,
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (needsRestart((s) => e.affectsConfiguration(s))) {
          this.log('Interpreter or model settings changed: restarting the server.');
          void this.restart();
        }
      }),
    );
  }

  get state(): ServerState {
    return this._state;
  }

  private setState(state: ServerState): void {
    this._state = state;
    this.stateEmitter.fire(state);
  }

  log(line: string): void {
    this.output.info(`[client] ${line}`);
  }

  /** Starts the server unless it runs or is starting. */
  start(): Promise<void> {
    if (this.client?.state === State.Running) {
      return Promise.resolve();
    }
    this.starting ??= this.doStart().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.setState('starting');
    const choice = await findInterpreter(this.extensionPath, (l) => { this.log(l); });
    if (choice.chosen === undefined) {
      this.setState('failed');
      const message = explainFailure(choice, this.extensionPath);
      this.log(message);
      void vscode.window.showErrorMessage(message, 'Open Settings', 'Show Log').then((pick) => {
        if (pick === 'Open Settings') {
          void openSettings(['lingua.python']);
        } else if (pick === 'Show Log') {
          this.output.show(true);
        }
      });
      return;
    }
    const python = choice.chosen.path;
    this.log(`Starting the server: ${python} -m server (from ${describeSource(choice.chosen.source)})`);
    const cwd = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath ?? this.extensionPath;
    const serverOptions: ServerOptions = {
      command: python,
      args: ['-m', 'server'],
      transport: TransportKind.stdio,
      options: { cwd, env: serverEnv(this.extensionPath) },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: DOCUMENT_SELECTOR,
      outputChannel: this.output,
      traceOutputChannel: this.output,
      initializationOptions: () => ({ settings: currentSettings(), clientCommands: Object.values(ClientCommands) }),
      // Push `{settings: {lingua: {...}}}` on every change (docs/protocol.md); the server may also
      // pull workspace/configuration. The pull-only model would send nothing unless the server
      // registers for the notification dynamically.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      synchronize: { configurationSection: 'lingua' },
      // Tell the user once, not in a modal loop, when the server keeps crashing.
      connectionOptions: { maxRestartCount: 3 },
    };
    const client = new LanguageClient('lingua', 'Lingua', serverOptions, clientOptions);
    this.client = client;
    // Registered before start, so it replaces the client's default handler: "Open Settings".
    client.onRequest(ShowMessageRequest.type, showServerMessage);
    client.onNotification(ModelStatusNotification, (status: ModelStatus) => {
      this.log(`model ${status.model}: ${status.state}${status.message !== undefined ? ` (${status.message})` : ''}`);
      this.modelEmitter.fire(status);
    });
    client.onDidChangeState((e) => {
      if (client !== this.client) {
        return;
      }
      if (e.newState === State.Running) {
        this.setState('running');
      } else if (e.newState === State.Stopped) {
        this.setState('stopped');
      }
    });
    try {
      await client.start();
      this.setState('running');
    } catch (err) {
      this.setState('failed');
      this.log(`The server did not start: ${String(err)}`);
      void vscode.window.showErrorMessage(`Lingua's server did not start: ${errorMessage(err)}`, 'Show Log').then((pick) => {
        if (pick === 'Show Log') {
          this.output.show(true);
        }
      });
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      try {
        await client.stop(5000);
      } catch (err) {
        this.log(`Stopping the server: ${String(err)}`);
      }
      await client.dispose().catch(() => undefined);
    }
    this.setState('stopped');
  }

  async restart(): Promise<void> {
    if (this.starting !== undefined) {
      await this.starting.catch(() => undefined);
    }
    await this.stop();
    await this.start();
  }

  /** The running client, starting the server first when needed; undefined when it cannot start. */
  async ready(): Promise<LanguageClient | undefined> {
    await this.start();
    return this.client?.state === State.Running ? this.client : undefined;
  }

  /** The client when it is running now, without starting anything. */
  get running(): LanguageClient | undefined {
    return this.client?.state === State.Running ? this.client : undefined;
  }

  /**
   * Runs one of the contract's commands (`workspace/executeCommand`) with cancellation and,
   * when `progress` is given, the server's work-done reports shown in it.
   */
  async execute<T>(
    command: string,
    arg: object,
    token?: CancellationToken,
    progress?: vscode.Progress<{ message?: string; increment?: number }>,
  ): Promise<T> {
    const client = await this.ready();
    if (client === undefined) {
      throw new Error("Lingua's server is not running (see the Lingua output).");
    }
    const workDoneToken = randomUUID();
    let lastPercent = 0;
    const sub =
      progress === undefined
        ? undefined
        : client.onProgress(WorkDoneProgress.type, workDoneToken, (value) => {
            if (value.kind === 'end') {
              return;
            }
            const v = value;
            const report: { message?: string; increment?: number } = {};
            if (v.message !== undefined) {
              report.message = v.message;
            }
            if (v.percentage !== undefined) {
              report.increment = Math.max(0, v.percentage - lastPercent);
              lastPercent = v.percentage;
            }
            progress.report(report);
          });
    try {
      const params = { command, arguments: [arg], workDoneToken };
      const result: unknown = token === undefined ? await client.sendRequest(ExecuteCommandRequest.type, params) : await client.sendRequest(ExecuteCommandRequest.type, params, token);
      return result as T;
    } finally {
      sub?.dispose();
    }
  }

  dispose(): void {
    void this.stop();
    for (const d of this.disposables) {
      d.dispose();
    }
  }
}

export function currentSettings(): ReturnType<typeof toServerSettings> {
  const config = vscode.workspace.getConfiguration('lingua');
  return toServerSettings((key) => config.get(key));
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    return err.message;
  }
  return String(err);
}

/** The LSP error code of a failed request, if any. */
export function errorCode(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err).code === 'number') {
    return (err as { code: number }).code;
  }
  return undefined;
}
