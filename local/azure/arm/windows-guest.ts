/**
 * The stand-in for Windows guests (no PowerShell runs here): what a PowerShell script it does not run prints (its
 * top-level `Write-Output` lines of literals and the boot time), the restart it starts detached, and what a test
 * scripts: pending Windows updates per VM and exit codes. Every script it answers for is reported as simulated.
 */

/** What a test scripts about the Windows guests. */
export interface WindowsGuestScript {
  /** Updates each Windows VM has pending the first time it searches (default 0). */
  pendingUpdates?: number;
  /** The exit code of a script containing `match` (the first matching rule wins); otherwise there is none. */
  exitCodes?: { match: string; exitCode: number }[];
}

/** What the stand-in answers for one script. */
export interface WindowsGuestRun {
  stdout: string;
  /** A scripted exit code, or null: the script was not run, so it has none. */
  exitCode: number | null;
  /** The script starts a restart detached (the guest boots again after the restart's latency). */
  restart: boolean;
}

/** The line Kiln's Windows Update pass prints with how many updates it installed, and whether it restarts. */
export const UPDATE_PASS_MARKER = 'kiln-updates:';

export class WindowsGuests {
  private script: Required<WindowsGuestScript> = { pendingUpdates: 0, exitCodes: [] };
  private readonly pending = new Map<string, number>();

  /** Replaces the scripted behaviour; every VM's pending updates start again from the new count. */
  set(script: WindowsGuestScript): void {
    this.script = { pendingUpdates: script.pendingUpdates ?? 0, exitCodes: script.exitCodes ?? [] };
    this.pending.clear();
  }

  /** The updates `vmId` still has pending. */
  pendingUpdates(vmId: string): number {
    return this.pending.get(vmId.toLowerCase()) ?? this.script.pendingUpdates;
  }

  /**
   * Answers for one PowerShell script. A Windows Update pass (it opens `Microsoft.Update.Session`) installs up to
   * its `$updateLimit` of the VM's pending updates and restarts when it installed any, as Kiln's pass does.
   */
  run(vmId: string, script: string, bootTime: Date): WindowsGuestRun {
    const exitCode = this.script.exitCodes.find((rule) => script.includes(rule.match))?.exitCode ?? null;
    let stdout = simulatedOutput(script, bootTime);
    let restart = startsDetachedRestart(script);
    if (/Microsoft\.Update\.Session/.test(script) && (exitCode === null || exitCode === 0)) {
      const limit = Number(/^\$updateLimit\s*=\s*(\d+)/m.exec(script)?.[1] ?? 1000);
      const installed = Math.min(this.pendingUpdates(vmId), limit);
      this.pending.set(vmId.toLowerCase(), this.pendingUpdates(vmId) - installed);
      restart = installed > 0;
      stdout += `${UPDATE_PASS_MARKER} installed=${installed} restart=${restart}\n`;
    }
    return { stdout, exitCode, restart };
  }
}

/**
 * `Write-Output` of string literals joined by `+`, where a term reading `Win32_OperatingSystem`'s LastBootUpTime is
 * the guest's boot time. Any other line is not evaluated (and prints nothing): the simulation runs no PowerShell.
 */
function simulatedOutput(script: string, bootTime: Date): string {
  const lines: string[] = [];
  for (const line of script.split(/\r?\n/)) {
    const statement = /^\s*Write-Output\s+(.+?)\s*;?\s*$/i.exec(line);
    const text = statement ? evaluate(statement[1]!, bootTime) : undefined;
    if (text !== undefined) lines.push(text);
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** A script that starts a restart detached (`Start-Process` running `shutdown /r` or `Restart-Computer`). */
function startsDetachedRestart(script: string): boolean {
  return /^\s*Start-Process\b.*(\bshutdown(\.exe)?\s+\/r\b|Restart-Computer)/im.test(script);
}

/** A DateTime as .NET's round-trip format `o` prints it in UTC (seven fractional digits). */
function roundTripTime(time: Date): string {
  return time.toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
}

function evaluate(expression: string, bootTime: Date): string | undefined {
  let parts = terms(expression);
  // `('a' + b)`: one parenthesised term holding the whole sum.
  if (parts?.length === 1 && /^\(.*\)$/s.test(parts[0]!)) parts = terms(parts[0]!.slice(1, -1));
  if (!parts) return undefined;
  let text = '';
  for (const part of parts) {
    if (/^'(?:[^']|'')*'$/.test(part)) text += part.slice(1, -1).replaceAll("''", "'");
    else if (/Win32_OperatingSystem\)?\.LastBootUpTime/i.test(part)) text += roundTripTime(bootTime);
    else return undefined;
  }
  return text;
}

/** Splits an expression on top-level `+` (outside quotes and parentheses); undefined when unbalanced. */
function terms(expression: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < expression.length; i += 1) {
    const c = expression[i];
    if (c === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === '+' && depth === 0) {
      parts.push(expression.slice(start, i).trim());
      start = i + 1;
    }
    if (depth < 0) return undefined;
  }
  if (quoted || depth !== 0) return undefined;
  parts.push(expression.slice(start).trim());
  return parts.every((p) => p !== '') ? parts : undefined;
}
