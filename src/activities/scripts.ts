/** Turns each customizer, validation and the generalize step into the script one managed Run Command runs in the VM. */

import type { Customizer, InVMValidation, ScriptSource } from '../template/spec.ts';
import type { OsType } from '../azure/virtualMachines.ts';

/** What a Run Command is asked to run: script text, the exit codes that count as success, and its time limit. */
export interface RunCommandScript {
  script: string;
  validExitCodes: number[];
  timeoutInSeconds: number;
}

/** Azure's cap on one managed Run Command's timeoutInSeconds (90 minutes). */
export const RUN_COMMAND_MAX_SECONDS = 5400;

/** Quotes a value for POSIX sh: single quotes, with embedded quotes closed and escaped. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Quotes a value for PowerShell: single quotes, doubled inside. */
export function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

function checkSha256(sha256: string | undefined, what: string): void {
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) {
    throw new Error(`${what}: expected sha256Checksum of 64 hex digits, found ${JSON.stringify(sha256)}`);
  }
}

/** Linux: download a file with curl and check its sha256 before it takes its final name. */
export function shellDownload(uri: string, destination: string, sha256: string | undefined): string[] {
  checkSha256(sha256, `download of ${uri}`);
  const part = `${destination}.kiln-part`;
  return [
    `mkdir -p "$(dirname ${shQuote(destination)})"`,
    `curl -fsSL --retry 5 --retry-delay 2 -o ${shQuote(part)} ${shQuote(uri)}`,
    ...(sha256
      ? [
          `actual="$(sha256sum ${shQuote(part)} | cut -d' ' -f1)"`,
          `if [ "$actual" != ${shQuote(sha256.toLowerCase())} ]; then echo ${shQuote(`sha256 mismatch for ${uri}: expected ${sha256.toLowerCase()}, found `)}"$actual" >&2; rm -f ${shQuote(part)}; exit 97; fi`,
        ]
      : []),
    `mv -f ${shQuote(part)} ${shQuote(destination)}`,
  ];
}

/** Windows: the same download and check with Invoke-WebRequest and Get-FileHash. */
export function powershellDownload(uri: string, destination: string, sha256: string | undefined): string[] {
  checkSha256(sha256, `download of ${uri}`);
  return [
    `$ErrorActionPreference = 'Stop'`,
    `$ProgressPreference = 'SilentlyContinue'`,
    `New-Item -ItemType Directory -Force -Path (Split-Path -Parent ${psQuote(destination)}) | Out-Null`,
    `Invoke-WebRequest -UseBasicParsing -Uri ${psQuote(uri)} -OutFile ${psQuote(`${destination}.kiln-part`)}`,
    ...(sha256
      ? [
          `$actual = (Get-FileHash -Algorithm SHA256 -Path ${psQuote(`${destination}.kiln-part`)}).Hash.ToLowerInvariant()`,
          `if ($actual -ne ${psQuote(sha256.toLowerCase())}) { Remove-Item -Force ${psQuote(`${destination}.kiln-part`)}; [Console]::Error.WriteLine(${psQuote(`sha256 mismatch for ${uri}: expected ${sha256.toLowerCase()}, found `)} + $actual); exit 97 }`,
        ]
      : []),
    `Move-Item -Force ${psQuote(`${destination}.kiln-part`)} ${psQuote(destination)}`,
  ];
}

/** A Shell step: inline lines run with `set -e` (as Packer's inline shell does); a scriptUri is fetched, checked, then run. */
function shellScript(source: ScriptSource): string {
  if (source.kind === 'inline') return ['#!/bin/bash', 'set -e', ...source.lines].join('\n');
  const path = '/tmp/kiln-script.sh';
  return ['#!/bin/bash', 'set -e', ...shellDownload(source.uri, path, source.sha256Checksum), `chmod +x ${path}`, `exec /bin/bash ${path}`].join('\n');
}

function powershellScript(source: ScriptSource, validExitCodes: number[]): string {
  if (source.kind === 'inline') return source.lines.join('\n');
  const path = 'C:\\Windows\\Temp\\kiln-script.ps1';
  return [
    ...powershellDownload(source.uri, path, source.sha256Checksum),
    `& ${psQuote(path)}`,
    // A script's own exit code is the step's; $LASTEXITCODE is unset when it never called exit.
    `if ($null -ne $LASTEXITCODE) { exit $LASTEXITCODE }`,
    `exit ${validExitCodes[0] ?? 0}`,
  ].join('\n');
}

/** The marker a Windows restart step prints with the boot time, so Kiln can tell when the VM has really restarted. */
export const BOOT_MARKER = 'kiln-boot:';

const PRINT_BOOT = `Write-Output ('${BOOT_MARKER}' + (Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o'))`;

/**
 * Restarts are started detached (a Run Command that reboots the VM in the foreground never reports back); the
 * script prints the current boot time first, and restartCheckScript later proves a new boot happened.
 */
function windowsRestartScript(restartCommand: string): string {
  return [
    `$ErrorActionPreference = 'Stop'`,
    PRINT_BOOT,
    `Start-Process -FilePath cmd.exe -ArgumentList '/c', ${psQuote(`timeout /t 5 /nobreak > NUL & ${restartCommand}`)} -WindowStyle Hidden`,
    `Write-Output 'restart scheduled'`,
  ].join('\n');
}

/** After a restart: print the boot time and run the template's restartCheckCommand, if any. */
export function restartCheckScript(restartCheckCommand: string | undefined): RunCommandScript {
  return {
    script: [`$ErrorActionPreference = 'Stop'`, PRINT_BOOT, ...(restartCheckCommand ? [restartCheckCommand] : [])].join('\n'),
    validExitCodes: [0],
    timeoutInSeconds: 600,
  };
}

/** The boot time a restart or check script printed, if it printed one. */
export function bootTimeIn(output: string): string | undefined {
  const line = output.split(/\r?\n/).find((l) => l.startsWith(BOOT_MARKER));
  return line?.slice(BOOT_MARKER.length).trim();
}

/** The line a Windows Update pass prints last: how many updates it installed and whether it restarts the VM. */
export const UPDATE_PASS_MARKER = 'kiln-updates:';

/** What one Windows Update pass reported, if it printed its marker line. */
export function updatePassIn(output: string): { installed: number; restart: boolean } | undefined {
  const m = new RegExp(`^${UPDATE_PASS_MARKER} installed=(\\d+) restart=(true|false)\\s*$`, 'mi').exec(output);
  return m ? { installed: Number(m[1]), restart: m[2]!.toLowerCase() === 'true' } : undefined;
}

/**
 * One pass of Windows Update through the Windows Update Agent API: search, filter, install at most updateLimit,
 * restart detached if needed. Kiln repeats passes until one installs nothing (windows-update.ts), as AIB's
 * WindowsUpdate (Packer's windows-update provisioner) loops search → install → restart.
 */
function windowsUpdateScript(searchCriteria: string, filters: string[], updateLimit: number): string {
  // AIB filters: "exclude:<PowerShell predicate on $_>" / "include:<predicate>".
  const predicates = filters.map((f) => {
    const m = /^(include|exclude):(.*)$/s.exec(f.trim());
    if (!m) throw new Error(`WindowsUpdate filter ${JSON.stringify(f)}: expected "include:<expression>" or "exclude:<expression>"`);
    return m[1] === 'include' ? `($_ | Where-Object { ${m[2]} })` : `-not ($_ | Where-Object { ${m[2]} })`;
  });
  const where = predicates.length > 0 ? predicates.join(' -and ') : '$true';
  return [
    `$ErrorActionPreference = 'Stop'`,
    `$updateLimit = ${updateLimit}`,
    PRINT_BOOT,
    `$session = New-Object -ComObject Microsoft.Update.Session`,
    `$found = $session.CreateUpdateSearcher().Search(${psQuote(searchCriteria)}).Updates`,
    `$selected = New-Object -ComObject Microsoft.Update.UpdateColl`,
    `foreach ($u in $found) { if ($selected.Count -ge $updateLimit) { break }; $_ = $u; if (${where}) { $u.AcceptEula(); [void]$selected.Add($u); Write-Output ("selected: " + $u.Title) } }`,
    `if ($selected.Count -eq 0) { Write-Output '${UPDATE_PASS_MARKER} installed=0 restart=false'; exit 0 }`,
    `$downloader = $session.CreateUpdateDownloader(); $downloader.Updates = $selected; [void]$downloader.Download()`,
    `$installer = $session.CreateUpdateInstaller(); $installer.Updates = $selected; $result = $installer.Install()`,
    `Write-Output ("installed " + $selected.Count + " updates, result code " + $result.ResultCode)`,
    `if ($result.ResultCode -ne 2 -and $result.ResultCode -ne 3) { exit 1 }`,
    `if ($result.RebootRequired) { Start-Process -FilePath cmd.exe -ArgumentList '/c', 'timeout /t 5 /nobreak > NUL & shutdown /r /t 0 /f /c "kiln windows update"' -WindowStyle Hidden }`,
    `Write-Output ('${UPDATE_PASS_MARKER} installed=' + $selected.Count + ' restart=' + $result.RebootRequired.ToString().ToLowerInvariant())`,
  ].join('\n');
}

/**
 * The script for a customizer or in-VM validation on the given OS; rejects a step the OS cannot run. `limitMs` is
 * the step's time (its timeout, else what is left of the build); one Run Command gets at most Azure's cap of it.
 */
export function customizerScript(step: Customizer | InVMValidation, osType: OsType, limitMs = RUN_COMMAND_MAX_SECONDS * 1000): RunCommandScript {
  const timeoutInSeconds = Math.max(1, Math.min(RUN_COMMAND_MAX_SECONDS, Math.ceil(limitMs / 1000)));
  const needs = (os: OsType) => {
    if (osType !== os) throw new Error(`customizer ${step.name} (${step.type}) runs on ${os}, but the build VM runs ${osType}`);
  };
  switch (step.type) {
    case 'Shell':
      needs('Linux');
      return { script: shellScript(step.script), validExitCodes: [0], timeoutInSeconds };
    case 'PowerShell':
      needs('Windows');
      return { script: powershellScript(step.script, step.validExitCodes), validExitCodes: step.validExitCodes, timeoutInSeconds };
    case 'File':
      return osType === 'Linux'
        ? { script: ['#!/bin/bash', 'set -e', ...shellDownload(step.sourceUri, step.destination, step.sha256Checksum)].join('\n'), validExitCodes: [0], timeoutInSeconds }
        : { script: powershellDownload(step.sourceUri, step.destination, step.sha256Checksum).join('\n'), validExitCodes: [0], timeoutInSeconds };
    case 'WindowsRestart':
      needs('Windows');
      return { script: windowsRestartScript(step.restartCommand), validExitCodes: [0], timeoutInSeconds: Math.ceil(step.restartTimeout.ms / 1000) };
    case 'WindowsUpdate':
      needs('Windows');
      return { script: windowsUpdateScript(step.searchCriteria, step.filters, step.updateLimit), validExitCodes: [0], timeoutInSeconds };
  }
}

/**
 * The generalize script. It returns at once and does the work detached, because deprovisioning removes the agent
 * that would report the Run Command's end; the step then waits for the VM to stop. waagent leaves
 * /etc/machine-id and cloud-init's state behind, so they are cleaned too.
 */
export function deprovisionScript(osType: OsType): RunCommandScript {
  if (osType === 'Linux') {
    const detached = [
      // A moment for the Run Command launcher to return and the agent to report it started, before it is removed.
      'sleep 1',
      'cloud-init clean --logs --seed >/dev/null 2>&1 || rm -rf /var/lib/cloud/instance /var/lib/cloud/instances /var/lib/cloud/data /var/log/cloud-init*.log',
      'truncate -s 0 /etc/machine-id',
      'rm -f /var/lib/dbus/machine-id',
      // No shutdown after a failed deprovision: an image that still knows its build VM must not be captured.
      'waagent -force -deprovision+user && { export HISTSIZE=0; sync; shutdown -h now; }',
    ].join('; ');
    return {
      script: ['#!/bin/bash', `nohup setsid /bin/bash -c ${shQuote(detached)} >/dev/null 2>&1 &`, `echo 'deprovision started'`].join('\n'),
      validExitCodes: [0],
      timeoutInSeconds: 300,
    };
  }
  const sysprep = '& $env:SystemRoot\\System32\\Sysprep\\Sysprep.exe /oobe /generalize /quiet /quit /mode:vm; ' +
    "while ((Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State').ImageState -ne 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE') { Start-Sleep -Seconds 5 }; " +
    'Stop-Computer -Force';
  return {
    script: [
      `Remove-Item -Recurse -Force -ErrorAction SilentlyContinue $env:SystemRoot\\Panther`,
      `Start-Process -FilePath powershell.exe -ArgumentList '-NoProfile', '-Command', ${psQuote(sysprep)} -WindowStyle Hidden`,
      `Write-Output 'sysprep started'`,
    ].join('\n'),
    validExitCodes: [0],
    timeoutInSeconds: 300,
  };
}
