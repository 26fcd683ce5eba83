/**
 * code-server for the e2e run: installed on demand into <repo>/.cache/code-server
 * (per /work/shared/docs/testing-in-real-vscode.md), launched on 127.0.0.1:<free port>
 * with throwaway config/user-data/extension folders, killed by PID at the end.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';
export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const CACHE_DIR = path.join(REPO_ROOT, '.cache', 'code-server');

export function codeServerEntry(): string {
  return path.join(CACHE_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

function installedVersion(): string | null {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(CACHE_DIR, 'node_modules', 'code-server', 'package.json'), 'utf8'));
    return typeof pkg.version === 'string' ? pkg.version : null;
  } catch {
    return null;
  }
}

/** Installs code-server into the cache folder unless the pinned version is already there. */
export function ensureCodeServer(log: (s: string) => void = console.log): string {
  const entry = codeServerEntry();
  if (installedVersion() === CODE_SERVER_VERSION && fs.existsSync(entry)) return entry;
  log(`installing code-server@${CODE_SERVER_VERSION} into ${CACHE_DIR} (one-off, ~2 min)`);
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const pkgJson = path.join(CACHE_DIR, 'package.json');
  if (!fs.existsSync(pkgJson)) {
    fs.writeFileSync(pkgJson, JSON.stringify({ name: 'piggyback-e2e-code-server', private: true }, null, 2));
  }
  // @vscode/ripgrep's postinstall downloads rg from GitHub: pre-seed its cache with Debian's rg.
  const tmp = path.join(CACHE_DIR, 'tmp');
  const rgCache = path.join(tmp, 'vscode-ripgrep-cache-1.15.11');
  fs.mkdirSync(rgCache, { recursive: true });
  const rgTar = path.join(rgCache, 'ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz');
  if (!fs.existsSync(rgTar)) {
    if (!fs.existsSync('/usr/bin/rg')) throw new Error('/usr/bin/rg missing: apt-get install -y ripgrep');
    const r = spawnSync('tar', ['czf', rgTar, '-C', '/usr/bin', 'rg'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('could not pre-seed the ripgrep cache');
  }
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', `code-server@${CODE_SERVER_VERSION}`], {
    cwd: CACHE_DIR,
    stdio: 'inherit',
    env: {
      ...process.env,
      TMPDIR: tmp,
      npm_config_unsafe_perm: 'true',
      npm_config_yes: 'true',
      npm_config_nodedir: '/usr',
    },
  });
  if (r.status !== 0 || !fs.existsSync(entry)) throw new Error(`npm install code-server@${CODE_SERVER_VERSION} failed (exit ${r.status})`);
  return entry;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface CodeServer {
  port: number;
  url: string;
  pid: number;
  home: string;
  userDataDir: string;
  extensionsDir: string;
  logFile: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

export interface CodeServerDirs {
  home: string;
  userDataDir: string;
  extensionsDir: string;
  env: NodeJS.ProcessEnv;
  baseArgs: string[];
}

/** Throwaway folders so nothing is written to the user's home. */
export function makeDirs(): CodeServerDirs {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'pb-e2e-cs-'));
  const userDataDir = path.join(home, 'ud');
  const extensionsDir = path.join(home, 'exts');
  fs.mkdirSync(path.join(userDataDir, 'User'), { recursive: true });
  fs.mkdirSync(extensionsDir, { recursive: true });
  fs.mkdirSync(path.join(home, 'cfg'), { recursive: true });
  fs.mkdirSync(path.join(home, 'data'), { recursive: true });
  fs.writeFileSync(path.join(home, 'config.yaml'), 'auth: none\ncert: false\n');
  fs.writeFileSync(
    path.join(userDataDir, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'telemetry.telemetryLevel': 'off',
        'security.workspace.trust.enabled': false,
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'update.mode': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'git.enabled': false,
        // Keep the e2e budget small and deterministic: the wasm backend is what a vsix install gets here.
        'piggyback.backend': 'auto',
        // The tests read the host's event-loop delay through this developer command (hidden from users' palette).
        'piggyback.showDebugCommands': true,
      },
      null,
      2,
    ),
  );
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(home, 'cfg'),
    XDG_DATA_HOME: path.join(home, 'data'),
  };
  const baseArgs = ['--config', path.join(home, 'config.yaml'), '--user-data-dir', userDataDir, '--extensions-dir', extensionsDir];
  return { home, userDataDir, extensionsDir, env, baseArgs };
}

export function installExtension(dirs: CodeServerDirs, vsix: string): void {
  const r = spawnSync(process.execPath, [codeServerEntry(), ...dirs.baseArgs, '--install-extension', vsix, '--force'], {
    env: dirs.env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  if (r.status !== 0) throw new Error(`code-server --install-extension failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}

/** `wrap`: a command prefix that execs the rest (e.g. unshare + a mount that hides a library). */
export async function launch(dirs: CodeServerDirs, opts: { wrap?: string[] } = {}): Promise<CodeServer> {
  const port = await freePort();
  const logFile = path.join(dirs.home, 'code-server.log');
  const out = fs.openSync(logFile, 'a');
  const wrap = opts.wrap ?? [];
  const proc = spawn(
    wrap[0] ?? process.execPath,
    [
      ...(wrap.length ? [...wrap.slice(1), process.execPath] : []),
      codeServerEntry(),
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--auth',
      'none',
      ...dirs.baseArgs,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
    ],
    { env: dirs.env, stdio: ['ignore', out, out], detached: false },
  );
  const pid = proc.pid;
  if (!pid) throw new Error('code-server did not start');
  const deadline = Date.now() + 60_000;
  while (!fs.readFileSync(logFile, 'utf8').includes('HTTP server listening')) {
    if (proc.exitCode !== null) throw new Error(`code-server exited (${proc.exitCode}):\n${fs.readFileSync(logFile, 'utf8')}`);
    if (Date.now() > deadline) {
      process.kill(pid, 'SIGKILL');
      throw new Error(`code-server did not listen within 60 s:\n${fs.readFileSync(logFile, 'utf8')}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid,
    home: dirs.home,
    userDataDir: dirs.userDataDir,
    extensionsDir: dirs.extensionsDir,
    logFile,
    proc,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}
