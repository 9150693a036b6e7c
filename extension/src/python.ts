// Finds the Python that runs the server (order and checks in logic/interpreter.ts).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  type Choice,
  type ProbeResult,
  PROBE_SCRIPT,
  chooseInterpreter,
  interpreterCandidates,
  parseProbeOutput,
} from './logic/interpreter';

/** Environment for the server and the probe: the extension folder first on PYTHONPATH. */
export function serverEnv(extensionPath: string): NodeJS.ProcessEnv {
  const prior = process.env.PYTHONPATH;
  return {
    ...process.env,
    PYTHONPATH: prior !== undefined && prior.length > 0 ? `${extensionPath}${path.delimiter}${prior}` : extensionPath,
    PYTHONUNBUFFERED: '1',
    PYTHONIOENCODING: 'utf-8',
  };
}

export function probeInterpreter(python: string, extensionPath: string): Promise<ProbeResult> {
  return new Promise((resolve) => {
    execFile(
      python,
      ['-c', PROBE_SCRIPT],
      { env: serverEnv(extensionPath), cwd: extensionPath, timeout: 30_000, windowsHide: true },
      (error, stdout, stderr) => {
        if (error !== null && stdout.trim().length === 0) {
          const code = (error as NodeJS.ErrnoException).code;
          const why = code === 'ENOENT' ? 'not found' : (stderr.trim().split(/\r?\n/).pop() ?? error.message);
          resolve({ ok: false, missing: [], error: why });
          return;
        }
        resolve(parseProbeOutput(stdout));
      },
    );
  });
}

interface PythonExtensionApi {
  environments?: {
    getActiveEnvironmentPath(resource?: vscode.Uri): { path: string };
    resolveEnvironment(env: { path: string } | string): Promise<{ executable?: { uri?: vscode.Uri } } | undefined>;
  };
  settings?: {
    getExecutionDetails(resource?: vscode.Uri): { execCommand: string[] | undefined };
  };
}

/** The Python extension's active interpreter, when ms-python.python is installed. */
async function pythonExtensionInterpreter(log: (line: string) => void): Promise<string | undefined> {
  const ext = vscode.extensions.getExtension<PythonExtensionApi>('ms-python.python');
  if (ext === undefined) {
    return undefined;
  }
  try {
    const api = ext.isActive ? ext.exports : await ext.activate();
    const resource = vscode.workspace.workspaceFolders?.[0]?.uri;
    if (api.environments !== undefined) {
      const active = api.environments.getActiveEnvironmentPath(resource);
      const resolved = await api.environments.resolveEnvironment(active);
      const exe = resolved?.executable?.uri?.fsPath;
      if (exe !== undefined) {
        return exe;
      }
    }
    return api.settings?.getExecutionDetails(resource).execCommand?.[0];
  } catch (err) {
    log(`The Python extension did not give an interpreter: ${String(err)}`);
    return undefined;
  }
}

/** Chooses and verifies the interpreter; logs every candidate tried. */
export async function findInterpreter(extensionPath: string, log: (line: string) => void): Promise<Choice> {
  const setting = vscode.workspace.getConfiguration('lingua').get<string>('python', '');
  const candidates = interpreterCandidates({
    setting,
    pythonExtensionPath: setting.trim().length === 0 ? await pythonExtensionInterpreter(log) : undefined,
    workspaceFolders: (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
    extensionPath,
    platform: process.platform,
    homeDir: homedir(),
    exists: existsSync,
  });
  const choice = await chooseInterpreter(candidates, (p) => probeInterpreter(p, extensionPath));
  for (const { candidate, result } of choice.tried) {
    const verdict = result.ok ? `ok (Python ${result.version ?? '?'})` : (result.error ?? `missing ${result.missing.join(', ')}`);
    log(`Python candidate ${candidate.path} [${candidate.source}]: ${verdict}`);
  }
  return choice;
}
