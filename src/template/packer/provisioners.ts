/** Maps Packer provisioners onto AIB customizers, in order; local scripts and files become uploads fetched by the VM. */

import { createHash } from 'node:crypto';
import { posix, win32 } from 'node:path';
import { uploadUri } from '../uploads.ts';
import { PASSWORD_FIELDS } from './credentials.ts';
import { refuse, type ConversionNote, type PackerBlock, type Upload } from './model.ts';

/** Reads the local files a template names (the CLI's file system; a server has none). */
export interface LocalFiles {
  /** The absolute path a template's relative path means, or undefined when nothing is there. */
  resolve(path: string): Promise<string | undefined>;
  isDirectory(path: string): Promise<boolean>;
  /** Every file under a directory, as paths relative to it with "/" separators, sorted. */
  list(dir: string): Promise<string[]>;
  read(path: string): Promise<Buffer>;
}

/** Provisioners Kiln knows and cannot run, with the reason. */
const REFUSED_PROVISIONERS: Record<string, string> = {
  ansible: 'it connects to the VM over SSH/WinRM from the machine running Packer; install Ansible in the image and run ansible-pull from a shell provisioner',
  'ansible-local': 'Kiln does not upload playbook directories; run ansible-pull from a shell provisioner',
  'chef-client': 'run the Chef client from a shell or powershell provisioner', 'chef-solo': 'run chef-solo from a shell or powershell provisioner',
  'puppet-masterless': 'run puppet apply from a shell or powershell provisioner', 'puppet-server': 'run the Puppet agent from a shell or powershell provisioner',
  'salt-masterless': 'run salt-call from a shell provisioner', converge: 'run converge from a shell provisioner', inspec: 'run InSpec from a validation step',
  'shell-local': 'it runs on the machine running Packer; Kiln runs every step in the build VM',
  'windows-shell': 'write the commands as a powershell provisioner',
  breakpoint: 'a bake cannot pause for a person; use errorHandling.onCustomizerError "abort" to keep the VM for debugging',
};

/** Fields every provisioner may have that change nothing for Kiln. */
const IGNORED_COMMON: Record<string, string> = {
  pause_before: 'Kiln runs steps back to back',
  max_retries: 'a failed step fails the bake; retry the bake from its failed step', timeout: 'Kiln applies its own per-step time limit',
  skip_clean: 'Kiln removes its script files itself', remote_folder: 'Kiln chooses where scripts go', remote_path: 'Kiln chooses where scripts go',
  remote_file: 'Kiln chooses where scripts go', start_retry_timeout: 'Run Command needs no connection retries',
  expect_disconnect: 'Kiln restarts are WindowsRestart steps; a disconnect fails the step', use_env_var_file: 'Kiln sets variables in the script itself',
  env_var_format: 'Kiln sets variables in the script itself', binary: 'Kiln runs scripts as given', execution_policy: 'Run Command runs PowerShell with its own policy',
  debug_mode: 'Kiln does not trace PowerShell scripts', elevated_execute_command: 'Kiln elevates through Run Command', name: '',
  generated: 'Kiln uploads files before the bake', check_registry: 'Kiln checks the boot time after a restart',
  restart_command_timeout: 'Kiln uses restart_timeout',
};

const LINUX_DEPROVISION = /\bwaagent\b.*-deprovision/;
const WINDOWS_GENERALIZE = [/sysprep(\.exe)?\b.*\/generalize/i, /IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE/, /Sysprep\\+unattend\.xml/i];

export interface MappedProvisioners {
  customize: Record<string, unknown>[];
  uploads: Upload[];
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function stringList(block: PackerBlock, key: string): string[] | undefined {
  const value = block.config[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) refuse('InvalidField', block.fieldAt(key), `${key} must be a list of strings`);
  return value;
}

function str(block: PackerBlock, key: string): string | undefined {
  const value = block.config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') refuse('InvalidField', block.fieldAt(key), `${key} must be a string, found ${typeof value}`);
  return value;
}

/** environment_vars ("K=V" strings) and env (a map), in order. */
function environment(block: PackerBlock): [string, string][] {
  const pairs: [string, string][] = (stringList(block, 'environment_vars') ?? []).map((entry) => {
    const eq = entry.indexOf('=');
    if (eq <= 0) refuse('InvalidField', block.fieldAt('environment_vars'), `environment_vars entry ${JSON.stringify(entry)}: expected NAME=VALUE`);
    return [entry.slice(0, eq), entry.slice(eq + 1)];
  });
  const env = block.config.env;
  if (env && typeof env === 'object' && !Array.isArray(env)) pairs.push(...Object.entries(env).map(([k, v]) => [k, String(v)] as [string, string]));
  for (const [name] of pairs) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) refuse('InvalidField', block.fieldAt('environment_vars'), `environment variable name ${JSON.stringify(name)}: expected letters, digits and _`);
  return pairs;
}

const shQuote = (v: string) => `'${v.replaceAll("'", `'\\''`)}'`;
const psQuote = (v: string) => `'${v.replaceAll("'", "''")}'`;

export async function mapProvisioners(blocks: PackerBlock[], files: LocalFiles | undefined, notes: ConversionNote[]): Promise<MappedProvisioners> {
  const customize: Record<string, unknown>[] = [];
  const uploads = new Map<string, Upload>();

  const upload = (bytes: Buffer, from: string): { uri: string; sha: string } => {
    const sha = sha256(bytes);
    if (!uploads.has(sha)) uploads.set(sha, { sha256: sha, from, bytes });
    return { uri: uploadUri(sha), sha };
  };
  const readLocal = async (block: PackerBlock, key: string, path: string): Promise<{ path: string; dir: boolean }> => {
    // A server (blob drop, PUT /templates, POST /builds) has a path but not the bytes, so no upload it could look up.
    if (!files) {
      return refuse('LocalFileUnavailable', block.fieldAt(key), `provisioner "${block.type}" ${key} ${JSON.stringify(path)} is a local file, and Kiln's API and blob drop have no local files: store the template with \`kiln templates put FILE\` (or bake it with \`kiln bake FILE\`); the kiln CLI uploads local files (PUT /api/uploads/{sha256}) and names them by their sha256`);
    }
    const resolved = await files.resolve(path);
    if (!resolved) return refuse('FileNotFound', block.fieldAt(key), `${key} ${JSON.stringify(path)}: no such file or directory`);
    return { path: resolved, dir: await files.isDirectory(resolved) };
  };

  for (const [index, block] of blocks.entries()) {
    const what = `provisioner "${block.type}"`;
    const name = str(block, 'name') ?? `${block.type}-${index + 1}`;
    const note = (kind: ConversionNote['kind'], field: string, message: string) => notes.push({ kind, at: block.fieldAt(field), what: `${what} ${field}`, message });
    const refused = REFUSED_PROVISIONERS[block.type];
    if (refused) refuse('UnsupportedProvisioner', block.at, `provisioner "${block.type}" cannot run in Kiln: ${refused}`);
    const known = new Set(KNOWN_FIELDS[block.type] ?? refuse('UnsupportedProvisioner', block.at, `provisioner "${block.type}" is not one Kiln knows (Kiln maps shell, powershell, file, windows-restart and windows-update)`));
    for (const key of Object.keys(block.config)) {
      if (known.has(key)) continue;
      if (PASSWORD_FIELDS.has(key)) { note('dropped', key, 'a password is never stored or shown: Run Command elevates without one'); continue; }
      const reason = IGNORED_COMMON[key];
      if (reason === undefined) refuse('UnknownField', block.fieldAt(key), `${what} field "${key}" is not one Kiln knows`);
      if (reason) note('ignored', key, reason);
    }

    switch (block.type) {
      case 'shell':
      case 'powershell': {
        const windows = block.type === 'powershell';
        const env = environment(block);
        if (env.length > 0) note('mapped', block.config.environment_vars ? 'environment_vars' : 'env', `${env.length} variable(s) set at the top of the step's script`);
        const envLines = env.map(([k, v]) => (windows ? `$env:${k} = ${psQuote(v)}` : `export ${k}=${shQuote(v)}`));
        const extra: Record<string, unknown> = {};
        if (windows) {
          const user = str(block, 'elevated_user');
          if (user) {
            // Run Command runs elevated only as LocalSystem (AIB's runElevated + runAsSystem); it cannot log on as another
            // account without keeping its password, so a named elevated_user runs as LocalSystem, and the note says so.
            Object.assign(extra, { runElevated: true, runAsSystem: true });
            note('mapped', 'elevated_user', /^(system|nt authority\\system)$/i.test(user)
              ? 'runElevated + runAsSystem (LocalSystem)'
              : `runElevated + runAsSystem: runs elevated as LocalSystem, not as ${user} (Run Command cannot log on as ${user}; no password is kept)`);
          }
          const codes = block.config.valid_exit_codes;
          if (codes !== undefined) {
            if (!Array.isArray(codes) || !codes.every((c) => Number.isInteger(Number(c)))) refuse('InvalidField', block.fieldAt('valid_exit_codes'), 'valid_exit_codes must be a list of integers');
            extra.validExitCodes = codes.map(Number);
            note('mapped', 'valid_exit_codes', `validExitCodes ${codes.join(', ')}`);
          }
          if (block.config.use_pwsh === true) note('ignored', 'use_pwsh', 'Run Command runs Windows PowerShell');
        } else {
          const codes = block.config.valid_exit_codes;
          if (Array.isArray(codes) && !(codes.length === 1 && Number(codes[0]) === 0)) refuse('UnsupportedField', block.fieldAt('valid_exit_codes'), 'a Shell step succeeds on exit code 0 only; make the script exit 0');
        }
        const execute = str(block, 'execute_command');
        let interpreter = '';
        if (execute !== undefined) {
          // Packer's `{{ .Vars }} sudo -E sh '{{ .Path }}'`: Run Command already runs as root; only the interpreter matters.
          interpreter = windows ? '' : (/\b(bash|sh)\s+(-\w+\s+)*['"]?\{\{\s*\.Path/.exec(execute)?.[1] ?? '');
          note('ignored', 'execute_command', `understood, not run: Run Command runs the step as ${windows ? 'an administrator' : 'root'}${interpreter && !block.config.inline ? `, scripts with ${interpreter}` : ''}`);
        }
        if (!windows) {
          const shebang = str(block, 'inline_shebang');
          if (shebang !== undefined) note('ignored', 'inline_shebang', `Kiln runs inline lines with /bin/bash and set -e, not ${shebang}`);
        }

        const inline = stringList(block, 'inline');
        const scripts = [...(str(block, 'script') ? [str(block, 'script')!] : []), ...(stringList(block, 'scripts') ?? [])];
        if ((inline ? 1 : 0) + (scripts.length > 0 ? 1 : 0) !== 1) refuse('InvalidField', block.at, `${what} needs exactly one of inline, script or scripts`);
        if (inline) {
          const deprovision = windows ? (line: string) => WINDOWS_GENERALIZE.some((re) => re.test(line)) : (line: string) => LINUX_DEPROVISION.test(line);
          const kept = inline.filter((line) => !deprovision(line));
          if (kept.length < inline.length) {
            note('dropped', 'inline', `${inline.length - kept.length} line(s) that ${windows ? 'sysprep' : 'deprovision'} the VM: Kiln generalizes as its own step after the last customizer`);
          }
          if (kept.length === 0) continue;
          customize.push({ type: windows ? 'PowerShell' : 'Shell', name, inline: [...envLines, ...kept], ...extra });
          note('mapped', 'inline', `${windows ? 'PowerShell' : 'Shell'} customizer "${name}" (${kept.length} line(s))`);
          continue;
        }
        for (const [n, script] of scripts.entries()) {
          const key = str(block, 'script') && n === 0 ? 'script' : 'scripts';
          const local = await readLocal(block, key, script);
          if (local.dir) refuse('InvalidField', block.fieldAt(key), `${key} ${JSON.stringify(script)} is a directory; name script files`);
          const bytes = await files!.read(local.path);
          const text = bytes.toString('utf8');
          if (windows ? WINDOWS_GENERALIZE.slice(0, 1).some((re) => re.test(text)) : LINUX_DEPROVISION.test(text)) {
            refuse('DeprovisionInScript', block.fieldAt(key), `${script} generalizes the VM; remove that part: Kiln generalizes as its own step (through Run Command it would hang)`);
          }
          const { uri, sha } = upload(bytes, local.path);
          const base = posix.basename(script.replaceAll('\\', '/'));
          const stepName = scripts.length > 1 ? `${name}-${n + 1}` : name;
          const remote = windows ? win32.join('C:\\Windows\\Temp\\kiln-packer', `${sha.slice(0, 12)}-${base}`) : `/tmp/kiln-packer/${sha.slice(0, 12)}-${base}`;
          customize.push({ type: 'File', name: `${stepName}-upload`, sourceUri: uri, destination: remote, sha256Checksum: sha });
          customize.push(windows
            ? { type: 'PowerShell', name: stepName, inline: [...envLines, `& ${psQuote(remote)}`, 'if ($null -ne $LASTEXITCODE) { exit $LASTEXITCODE }'], ...extra }
            : { type: 'Shell', name: stepName, inline: [...envLines, `chmod +x ${shQuote(remote)}`, `${interpreter ? `${interpreter} ` : ''}${shQuote(remote)}`] });
          note('mapped', key, `${script} uploaded (sha256 ${sha.slice(0, 12)}…), fetched to ${remote} and run`);
        }
        continue;
      }
      case 'file': {
        if (str(block, 'direction') === 'download') refuse('UnsupportedField', block.fieldAt('direction'), 'file downloads from the VM are not supported: Kiln keeps nothing from the build VM but its image');
        const destination = str(block, 'destination') ?? refuse('MissingField', block.at, 'a file provisioner needs destination');
        const windowsPath = /^[A-Za-z]:[\\/]/.test(destination) || destination.includes('\\');
        const join = (dir: string, rel: string) => (windowsPath ? win32.join(dir, ...rel.split('/')) : posix.join(dir, rel));
        const intoDir = /[\\/]$/.test(destination);
        const content = str(block, 'content');
        if (content !== undefined) {
          const { uri, sha } = upload(Buffer.from(content, 'utf8'), `content of ${block.at}`);
          customize.push({ type: 'File', name, sourceUri: uri, destination, sha256Checksum: sha });
          note('mapped', 'content', `File customizer "${name}" writes ${destination}`);
          continue;
        }
        const sources = [...(str(block, 'source') ? [str(block, 'source')!] : []), ...(stringList(block, 'sources') ?? [])];
        if (sources.length === 0) refuse('MissingField', block.at, 'a file provisioner needs source, sources or content');
        if (sources.length > 1 && !intoDir) refuse('InvalidField', block.fieldAt('destination'), 'several sources need a destination directory ending in "/"');
        let written = 0;
        for (const source of sources) {
          const key = str(block, 'source') ? 'source' : 'sources';
          const local = await readLocal(block, key, source);
          // Packer's rule: "dir/" copies the directory's contents, "dir" copies the directory itself.
          const entries = local.dir ? (await files!.list(local.path)).map((rel) => ({ rel, path: `${local.path}/${rel}` })) : [{ rel: '', path: local.path }];
          const baseName = posix.basename(source.replaceAll('\\', '/').replace(/\/$/, ''));
          for (const entry of entries) {
            const { uri, sha } = upload(await files!.read(entry.path), entry.path);
            const target = local.dir
              ? join(/[\\/]$/.test(source) ? destination : join(destination, baseName), entry.rel)
              : intoDir ? join(destination, baseName) : destination;
            customize.push({ type: 'File', name: entries.length > 1 || sources.length > 1 ? `${name}-${(written += 1)}` : name, sourceUri: uri, destination: target, sha256Checksum: sha });
          }
          note('mapped', key, `${source}: ${entries.length} file(s) uploaded and written under ${destination}`);
        }
        continue;
      }
      case 'windows-restart': {
        const timeout = str(block, 'restart_timeout');
        customize.push({
          type: 'WindowsRestart', name,
          ...(str(block, 'restart_command') ? { restartCommand: str(block, 'restart_command') } : {}),
          ...(str(block, 'restart_check_command') ? { restartCheckCommand: str(block, 'restart_check_command') } : {}),
          ...(timeout ? { restartTimeout: timeout } : {}),
        });
        notes.push({ kind: 'mapped', at: block.at, what, message: `WindowsRestart customizer "${name}"` });
        continue;
      }
      case 'windows-update': {
        const limit = block.config.update_limit;
        customize.push({
          type: 'WindowsUpdate', name,
          ...(str(block, 'search_criteria') ? { searchCriteria: str(block, 'search_criteria') } : {}),
          ...(stringList(block, 'filters') ? { filters: stringList(block, 'filters') } : {}),
          ...(limit !== undefined ? { updateLimit: Number(limit) } : {}),
        });
        notes.push({ kind: 'mapped', at: block.at, what, message: `WindowsUpdate customizer "${name}"` });
        continue;
      }
    }
  }
  return { customize, uploads: [...uploads.values()] };
}

/** The fields each mapped provisioner reads (beside IGNORED_COMMON). */
const KNOWN_FIELDS: Record<string, string[]> = {
  shell: ['inline', 'script', 'scripts', 'environment_vars', 'env', 'inline_shebang', 'execute_command', 'valid_exit_codes'],
  powershell: ['inline', 'script', 'scripts', 'environment_vars', 'env', 'elevated_user', 'valid_exit_codes', 'execute_command', 'use_pwsh'],
  file: ['source', 'sources', 'content', 'destination', 'direction'],
  'windows-restart': ['restart_command', 'restart_check_command', 'restart_timeout'],
  'windows-update': ['search_criteria', 'filters', 'update_limit'],
};
