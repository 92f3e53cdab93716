/**
 * What a simulated Windows guest shows for a PowerShell script it does not run: the text its top-level
 * `Write-Output` lines print (string literals and the OS boot time), and the restart it starts detached.
 */

/**
 * `Write-Output` of string literals joined by `+`, where a term reading `Win32_OperatingSystem`'s LastBootUpTime is
 * the guest's boot time. Any other line is not evaluated (and prints nothing): the simulation runs no PowerShell.
 */
export function simulatedOutput(script: string, bootTime: Date): string {
  const lines: string[] = [];
  for (const line of script.split(/\r?\n/)) {
    const statement = /^\s*Write-Output\s+(.+?)\s*;?\s*$/i.exec(line);
    const text = statement ? evaluate(statement[1]!, bootTime) : undefined;
    if (text !== undefined) lines.push(text);
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** A script that starts a restart detached (`Start-Process` running `shutdown /r` or `Restart-Computer`). */
export function startsDetachedRestart(script: string): boolean {
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
