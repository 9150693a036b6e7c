// Which Python runs the server: pure logic, no VS Code API (unit-tested).
//
// Order: the `lingua.python` setting, else the Python extension's active environment, else a
// `.venv` in a workspace folder or beside the extension (the README set-up makes one at the
// repository root), else `python3` (`python` on Windows). An explicit setting is never
// silently replaced by another interpreter: when it lacks the packages the user is told.

export type InterpreterSource = 'setting' | 'pythonExtension' | 'workspaceVenv' | 'extensionVenv' | 'path';

export interface Candidate {
  readonly path: string;
  readonly source: InterpreterSource;
}

export interface CandidateInputs {
  /** Value of `lingua.python`, untrimmed, possibly with `~` or `${workspaceFolder}`. */
  readonly setting: string;
  /** Executable of the Python extension's active environment, when that extension is installed. */
  readonly pythonExtensionPath?: string | undefined;
  readonly workspaceFolders: readonly string[];
  readonly extensionPath: string;
  readonly platform: NodeJS.Platform;
  readonly homeDir: string;
  /** Whether a file exists (injected so tests need no disk). */
  readonly exists: (path: string) => boolean;
}

function join(platform: NodeJS.Platform, ...parts: string[]): string {
  const sep = platform === 'win32' ? '\\' : '/';
  return parts
    .map((p, i) => (i === 0 ? p.replace(/[\\/]+$/, '') : p.replace(/^[\\/]+|[\\/]+$/g, '')))
    .filter((p) => p.length > 0)
    .join(sep);
}

export function venvPython(root: string, platform: NodeJS.Platform): string {
  return platform === 'win32' ? join(platform, root, '.venv', 'Scripts', 'python.exe') : join(platform, root, '.venv', 'bin', 'python');
}

/** Expands `~`, `${workspaceFolder}` and `${userHome}` in the setting. */
export function expandSetting(value: string, workspaceFolder: string | undefined, homeDir: string): string {
  let out = value.trim();
  if (out === '~' || out.startsWith('~/') || out.startsWith('~\\')) {
    out = homeDir + out.slice(1);
  }
  out = out.replace(/\$\{userHome\}/g, homeDir);
  if (workspaceFolder !== undefined) {
    out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  return out;
}

/** The interpreters to try, best first, without duplicates. */
export function interpreterCandidates(inputs: CandidateInputs): Candidate[] {
  const setting = expandSetting(inputs.setting, inputs.workspaceFolders[0], inputs.homeDir);
  if (setting.length > 0) {
    return [{ path: setting, source: 'setting' }];
  }
  const out: Candidate[] = [];
  const add = (path: string, source: InterpreterSource): void => {
    if (!out.some((c) => c.path === path)) {
      out.push({ path, source });
    }
  };
  if (inputs.pythonExtensionPath !== undefined && inputs.pythonExtensionPath.length > 0) {
    add(inputs.pythonExtensionPath, 'pythonExtension');
  }
  for (const folder of inputs.workspaceFolders) {
    const p = venvPython(folder, inputs.platform);
    if (inputs.exists(p)) {
      add(p, 'workspaceVenv');
    }
  }
  const own = venvPython(inputs.extensionPath, inputs.platform);
  if (inputs.exists(own)) {
    add(own, 'extensionVenv');
  }
  add(inputs.platform === 'win32' ? 'python' : 'python3', 'path');
  return out;
}

/** What the probe script (PROBE_SCRIPT) reports about one interpreter. */
export interface ProbeResult {
  readonly ok: boolean;
  /** Python modules that could not be found. */
  readonly missing: readonly string[];
  readonly version?: string;
  /** Set when the interpreter could not run at all. */
  readonly error?: string;
}

/** Modules the server needs; `server` and `lingua_core` come from the extension folder. */
export const REQUIRED_MODULES = ['server', 'lingua_core', 'pygls', 'lsprotocol', 'torch', 'transformers', 'tiktoken'] as const;

/** Checks modules without importing the heavy ones (find_spec on top-level names is cheap). */
export const PROBE_SCRIPT = [
  'import importlib.util, json, sys',
  `mods = ${JSON.stringify(REQUIRED_MODULES)}`,
  'missing = [m for m in mods if importlib.util.find_spec(m) is None]',
  "if not missing and importlib.util.find_spec('server.__main__') is None: missing.append('server.__main__')",
  "print(json.dumps({'ok': not missing, 'missing': missing, 'version': sys.version.split()[0]}))",
].join('\n');

export function parseProbeOutput(stdout: string): ProbeResult {
  const line = stdout
    .trim()
    .split(/\r?\n/)
    .reverse()
    .find((l) => l.startsWith('{'));
  if (line === undefined) {
    return { ok: false, missing: [], error: 'the interpreter printed no probe result' };
  }
  try {
    const raw = JSON.parse(line) as { ok?: unknown; missing?: unknown; version?: unknown };
    const missing = Array.isArray(raw.missing) ? raw.missing.filter((m): m is string => typeof m === 'string') : [];
    const result: ProbeResult = { ok: raw.ok === true && missing.length === 0, missing };
    return typeof raw.version === 'string' ? { ...result, version: raw.version } : result;
  } catch {
    return { ok: false, missing: [], error: 'unreadable probe result' };
  }
}

export interface Choice {
  readonly chosen?: Candidate;
  /** Every candidate tried, with its probe result, in order. */
  readonly tried: readonly { candidate: Candidate; result: ProbeResult }[];
}

/** Probes candidates in order and stops at the first that has everything. */
export async function chooseInterpreter(
  candidates: readonly Candidate[],
  probe: (path: string) => Promise<ProbeResult>,
): Promise<Choice> {
  const tried: { candidate: Candidate; result: ProbeResult }[] = [];
  for (const candidate of candidates) {
    const result = await probe(candidate.path);
    tried.push({ candidate, result });
    if (result.ok) {
      return { chosen: candidate, tried };
    }
  }
  return { tried };
}

const SOURCE_LABEL: Record<InterpreterSource, string> = {
  setting: 'the lingua.python setting',
  pythonExtension: "the Python extension's active environment",
  workspaceVenv: 'the workspace .venv',
  extensionVenv: 'the .venv beside the extension',
  path: 'python3 on PATH',
};

export function describeSource(source: InterpreterSource): string {
  return SOURCE_LABEL[source];
}

/** One-line explanation for the notification shown when no interpreter works. */
export function explainFailure(choice: Choice, extensionPath: string): string {
  const parts = choice.tried.map(({ candidate, result }) => {
    const why = result.error ?? `lacks ${result.missing.join(', ')}`;
    return `${candidate.path} (${describeSource(candidate.source)}): ${why}`;
  });
  const fix =
    `Fix: set "lingua.python" to a Python with Lingua's dependencies, for example after ` +
    `\`python3 -m venv ~/.lingua-venv && ~/.lingua-venv/bin/pip install "${extensionPath}"\`, ` +
    `or run scripts/setup.sh in the Lingua repository.`;
  return `Lingua cannot start its server: no Python with the server's packages. Tried ${parts.join('; ')}. ${fix}`;
}
