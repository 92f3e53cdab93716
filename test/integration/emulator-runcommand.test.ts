// Run commands through @azure/arm-compute: scripts really run in the VM's guest, parameters arrive as environment
// variables, output reaches append blobs in Azurite, timeouts and failures show, and a foreground deprovision never
// reports back while a detached one stops the VM.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, ContainerSASPermissions } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type Azurite } from '../../local/azurite.ts';
import { FAST_POLL, UBUNTU, failure, startTestEmulator, vmModel, type TestEmulator } from './emulator-helpers.ts';

let t: TestEmulator;
let azurite: Azurite;
let azuriteHome: string;
let isolated = false;
const RG = 'rg-run';

async function newVm(name: string): Promise<void> {
  await t.compute.virtualMachines.createOrUpdate(RG, name, vmModel({ image: UBUNTU, name }), FAST_POLL);
}

const managed = (script: string, extra: Record<string, unknown> = {}) => ({
  location: 'eastus', source: { script }, asyncExecution: false, treatFailureAsDeploymentFailure: false, timeoutInSeconds: 60, ...extra,
});

async function view(vm: string, name: string) {
  return (await t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, vm, name, { expand: 'instanceView' })).instanceView!;
}

beforeAll(async () => {
  t = await startTestEmulator();
  azuriteHome = await mkdtemp(join(tmpdir(), 'kiln-emulator-azurite-'));
  azurite = await startAzurite({ location: azuriteHome });
  await t.resources.resourceGroups.createOrUpdate(RG, { location: 'eastus' });
  await newVm('vm1');
  const check = await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'probe', managed('true'), FAST_POLL);
  isolated = !(await view('vm1', check.name!)).executionMessage?.startsWith('Simulated');
});
afterAll(async () => {
  await t?.close();
  await azurite?.close();
  if (azuriteHome) await rm(azuriteHome, { recursive: true, force: true });
});

describe('managed run commands', () => {
  it('run the script with parameters and protected parameters as environment variables, never echoing secrets', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    const rc = await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'env', managed('echo "A=$A S=$S"; echo oops >&2; touch /root/ran', {
      parameters: [{ name: 'A', value: 'one' }], protectedParameters: [{ name: 'S', value: 'hush' }],
    }), FAST_POLL);
    expect(rc.provisioningState).toBe('Succeeded');
    expect(rc.protectedParameters).toBeUndefined();
    expect(JSON.stringify(await t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, 'vm1', 'env'))).not.toContain('hush');
    expect(await view('vm1', 'env')).toMatchObject({ executionState: 'Succeeded', exitCode: 0, output: 'A=one S=hush\n', error: 'oops\n' });
    const vmId = t.id(`${RG}/providers/Microsoft.Compute/virtualMachines/vm1`);
    expect(await t.emulator.readDiskFile(vmId, '/root/ran')).toBeDefined();
    const names: string[] = [];
    for await (const r of t.compute.virtualMachineRunCommands.listByVirtualMachine(RG, 'vm1')) names.push(r.name!);
    expect(names).toContain('env');
  });

  it('write stdout and stderr to append blobs given as SAS URLs', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    const container = service.getContainerClient('runlogs');
    await container.createIfNotExists();
    const sas = await container.generateSasUrl({ permissions: ContainerSASPermissions.parse('racw'), expiresOn: new Date(Date.now() + 3_600_000) });
    const blobUrl = (name: string) => sas.replace('?', `/${name}?`);
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'blobs', managed('echo to-out; echo to-err >&2', {
      outputBlobUri: blobUrl('out.txt'), errorBlobUri: blobUrl('err.txt'),
    }), FAST_POLL);
    expect((await container.getBlobClient('out.txt').downloadToBuffer()).toString()).toBe('to-out\n');
    expect((await container.getBlobClient('err.txt').downloadToBuffer()).toString()).toBe('to-err\n');
    expect((await container.getBlobClient('out.txt').getProperties()).blobType).toBe('AppendBlob');
  });

  it('report a failed script in the instance view, or fail the LRO with treatFailureAsDeploymentFailure', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'fails', managed('exit 3'), FAST_POLL);
    expect(await view('vm1', 'fails')).toMatchObject({ executionState: 'Failed', exitCode: 3 });
    const failed = await failure(t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'fails-hard', managed('exit 4', { treatFailureAsDeploymentFailure: true }), FAST_POLL));
    expect(failed.message).toContain('The long-running operation has failed');
    expect(failed.message).toContain('exit code 4');
  });

  it('enforce timeoutInSeconds', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'slow', managed('sleep 30', { timeoutInSeconds: 1 }), FAST_POLL);
    expect(await view('vm1', 'slow')).toMatchObject({ executionState: 'TimedOut' });
  });

  it('finish when the script starts with asyncExecution, then report in the instance view', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    const rc = await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm1', 'async', managed('sleep 0.5; echo done', { asyncExecution: true }), FAST_POLL);
    expect(rc.provisioningState).toBe('Succeeded');
    expect((await view('vm1', 'async')).executionState).toBe('Running');
    const deadline = Date.now() + 10_000;
    while ((await view('vm1', 'async')).executionState === 'Running' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await view('vm1', 'async')).toMatchObject({ executionState: 'Succeeded', output: 'done\n' });
  });

  it('refuse a VM that is not running (409) and a second run while one is in flight (Conflict)', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await newVm('vm-busy');
    const first = t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm-busy', 'long', managed('sleep 2'), FAST_POLL);
    await first.submitted();
    expect(await failure(t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm-busy', 'second', managed('true'), FAST_POLL))).toMatchObject({ code: 'Conflict', statusCode: 409 });
    await first;
    await t.compute.virtualMachines.deallocate(RG, 'vm-busy', FAST_POLL);
    expect(await failure(t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm-busy', 'third', managed('true'), FAST_POLL))).toMatchObject({ code: 'OperationNotAllowed', statusCode: 409 });
    expect(await failure(t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, 'vm-busy', 'nope'))).toMatchObject({ code: 'NotFound', statusCode: 404 });
    await t.compute.virtualMachineRunCommands.delete(RG, 'vm-busy', 'long', FAST_POLL);
    expect(await failure(t.compute.virtualMachineRunCommands.getByVirtualMachine(RG, 'vm-busy', 'long'))).toMatchObject({ statusCode: 404 });
  });

  it('never complete when the script deprovisions in the foreground; a detached deprovision stops the VM', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    await newVm('vm-fg');
    const foreground = t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm-fg', 'deprov', managed('waagent -force -deprovision+user'), FAST_POLL);
    await foreground.submitted();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(foreground.isDone).toBe(false);
    expect((await view('vm-fg', 'deprov')).executionState).toBe('Running');
    (foreground as { stopPolling?: () => void }).stopPolling?.();

    await newVm('vm-bg');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm-bg', 'deprov', managed('nohup bash -c "sleep 0.5; waagent -force -deprovision+user" >/dev/null 2>&1 &'), FAST_POLL);
    expect((await view('vm-bg', 'deprov')).executionState).toBe('Succeeded');
    const deadline = Date.now() + 10_000;
    let statuses: (string | undefined)[] = [];
    while (Date.now() < deadline) {
      statuses = (await t.compute.virtualMachines.instanceView(RG, 'vm-bg')).statuses?.map((s) => s.code) ?? [];
      if (statuses.includes('PowerState/stopped')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(statuses).toContain('PowerState/stopped');
    const vmId = t.id(`${RG}/providers/Microsoft.Compute/virtualMachines/vm-bg`);
    expect((await t.emulator.readDiskFile(vmId, '/etc/passwd'))?.toString()).not.toContain('azureuser:');
  });
});

describe('the action runCommand', () => {
  it('returns the script output in the Location result', async (context) => {
    if (!isolated) context.skip('this machine cannot isolate guests');
    const result = await t.compute.virtualMachines.runCommand(RG, 'vm1', { commandId: 'RunShellScript', script: ['echo "hi $WHO"', 'exit 2'], parameters: [{ name: 'WHO', value: 'kiln' }] }, FAST_POLL);
    expect(result.value?.[0]).toMatchObject({ code: 'ProvisioningState/succeeded', level: 'Info' });
    expect(result.value?.[0]?.message).toContain('[stdout]\nhi kiln\n');
    expect(await failure(t.compute.virtualMachines.runCommand(RG, 'vm1', { commandId: 'Nope' }, FAST_POLL))).toMatchObject({ code: 'InvalidParameter', statusCode: 400 });
  });
});

describe('Windows guests', () => {
  it('are simulated: scripts are not run, and a detached sysprep stops the VM', async () => {
    const windows = { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' };
    await t.compute.virtualMachines.createOrUpdate(RG, 'win', vmModel({ image: windows, name: 'win' }), FAST_POLL);
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win', 'hello', managed("Write-Output 'hi'"), FAST_POLL);
    expect(await view('win', 'hello')).toMatchObject({ executionState: 'Succeeded', executionMessage: expect.stringContaining('Windows guests are not emulated') });
    const sysprep = "Start-Process -FilePath powershell.exe -ArgumentList '-Command', '& Sysprep.exe /oobe /generalize /quiet /quit /mode:vm; Stop-Computer -Force'";
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win', 'sysprep', managed(sysprep), FAST_POLL);
    const statuses = (await t.compute.virtualMachines.instanceView(RG, 'win')).statuses?.map((s) => s.code);
    expect(statuses).toContain('PowerState/stopped');
  });

  it('print their Write-Output lines with the boot time, which a detached restart makes newer', async () => {
    const windows = { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' };
    await t.compute.virtualMachines.createOrUpdate(RG, 'win2', vmModel({ image: windows, name: 'win2' }), FAST_POLL);
    const printBoot = "Write-Output ('boot:' + (Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o'))";
    const bootIn = async (name: string) => /^boot:(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z)$/m.exec((await view('win2', name)).output ?? '')?.[1];
    const restart = [
      printBoot,
      "Start-Process -FilePath cmd.exe -ArgumentList '/c', 'timeout /t 5 /nobreak > NUL & shutdown /r /f /t 0' -WindowStyle Hidden",
      "Write-Output 'it''s scheduled'",
      'Get-Service | Out-Null',
    ].join('\n');
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win2', 'restart', managed(restart), FAST_POLL);
    expect((await view('win2', 'restart')).output).toMatch(/^boot:\S+\nit's scheduled\n$/);
    const before = await bootIn('restart');
    expect(before).toBeDefined();
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win2', 'check', managed(printBoot), FAST_POLL);
    const after = await bootIn('check');
    expect(Date.parse(after!)).toBeGreaterThan(Date.parse(before!));
    expect((await t.compute.virtualMachines.instanceView(RG, 'win2')).statuses?.map((s) => s.code)).toContain('PowerState/running');
    // Without a restart, the boot time stays.
    await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win2', 'check-again', managed(printBoot), FAST_POLL);
    expect(await bootIn('check-again')).toBe(after);
  });

  it('report every script as not run, with no exit code unless a test scripted one', async () => {
    const windows = { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' };
    await t.compute.virtualMachines.createOrUpdate(RG, 'win3', vmModel({ image: windows, name: 'win3' }), FAST_POLL);
    t.emulator.windowsGuests.set({ exitCodes: [{ match: 'Test-Path C:\\missing', exitCode: 3 }] });
    try {
      await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win3', 'plain', managed("Write-Output 'hi'"), FAST_POLL);
      const plain = await view('win3', 'plain');
      expect(plain).toMatchObject({ executionState: 'Succeeded', output: 'hi\n' });
      expect(plain.exitCode).toBeUndefined();
      expect(plain.statuses).toEqual([expect.objectContaining({ code: 'ScriptExecution/simulated', level: 'Warning', message: expect.stringContaining('Windows guests are not emulated') })]);
      await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win3', 'scripted', managed('if (-not (Test-Path C:\\missing)) { exit 3 }'), FAST_POLL);
      const scripted = await view('win3', 'scripted');
      expect(scripted).toMatchObject({ executionState: 'Failed', exitCode: 3 });
      expect(scripted.statuses?.[0]?.code).toBe('ScriptExecution/simulated');
    } finally {
      t.emulator.windowsGuests.set({});
    }
  });

  it('install a scripted number of pending updates, updateLimit per pass, restarting after each pass that installed any', async () => {
    const windows = { publisher: 'MicrosoftWindowsServer', offer: 'WindowsServer', sku: '2022-datacenter-azure-edition', version: 'latest' };
    await t.compute.virtualMachines.createOrUpdate(RG, 'win4', vmModel({ image: windows, name: 'win4' }), FAST_POLL);
    t.emulator.windowsGuests.set({ pendingUpdates: 3 });
    try {
      const pass = ['$updateLimit = 2', "Write-Output ('kiln-boot:' + (Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('o'))", '$session = New-Object -ComObject Microsoft.Update.Session'].join('\n');
      const reports: string[] = [];
      for (const name of ['pass-1', 'pass-2', 'pass-3']) {
        await t.compute.virtualMachineRunCommands.createOrUpdate(RG, 'win4', name, managed(pass), FAST_POLL);
        reports.push((await view('win4', name)).output ?? '');
      }
      expect(reports.map((r) => /kiln-updates: .*/.exec(r)?.[0])).toEqual([
        'kiln-updates: installed=2 restart=true', 'kiln-updates: installed=1 restart=true', 'kiln-updates: installed=0 restart=false',
      ]);
      // Each pass that installed something restarted the guest: the next pass sees a newer boot.
      const boots = reports.map((r) => Date.parse(/kiln-boot:(\S+)/.exec(r)![1]!));
      expect(boots[1]).toBeGreaterThan(boots[0]!);
      expect(boots[2]).toBeGreaterThan(boots[1]!);
    } finally {
      t.emulator.windowsGuests.set({});
    }
  });
});

describe('without isolation', () => {
  it('does not run the script and says it simulated it', async () => {
    const plain = await startTestEmulator({ isolation: 'off' });
    try {
      await plain.resources.resourceGroups.createOrUpdate(RG, { location: 'eastus' });
      await plain.compute.virtualMachines.createOrUpdate(RG, 'vm', vmModel({ image: UBUNTU }), FAST_POLL);
      await plain.compute.virtualMachineRunCommands.createOrUpdate(RG, 'vm', 'sim', managed('touch /kiln-should-not-exist'), FAST_POLL);
      const rc = await plain.compute.virtualMachineRunCommands.getByVirtualMachine(RG, 'vm', 'sim', { expand: 'instanceView' });
      expect(rc.instanceView?.executionMessage).toMatch(/^Simulated: the script was not run/);
      // The marker a client reads, and no exit code: a script that did not run neither succeeded nor failed.
      expect(rc.instanceView?.statuses).toEqual([expect.objectContaining({ code: 'ScriptExecution/simulated', displayStatus: 'Script not run' })]);
      expect(rc.instanceView?.exitCode).toBeUndefined();
      expect(await plain.emulator.readDiskFile(plain.id(`${RG}/providers/Microsoft.Compute/virtualMachines/vm`), '/kiln-should-not-exist')).toBeUndefined();
    } finally {
      await plain.close();
    }
  });
});
