/** A VM's state as its instance view tells it: provisioning, power, generalized. */

import type { VirtualMachineInstanceView } from '@azure/arm-compute';

export interface VmState {
  exists: boolean;
  provisioningState?: string;
  /** The PowerState/… code's suffix: running, stopping, stopped, deallocating, deallocated, … */
  powerState?: string;
  generalized: boolean;
}

export function vmStateFromInstanceView(view: VirtualMachineInstanceView | undefined, provisioningState?: string): VmState {
  const codes = (view?.statuses ?? []).map((s) => s.code ?? '');
  const power = codes.find((c) => c.toLowerCase().startsWith('powerstate/'));
  return {
    exists: true,
    provisioningState,
    powerState: power?.slice('PowerState/'.length).toLowerCase(),
    generalized: codes.some((c) => c.toLowerCase() === 'osstate/generalized'),
  };
}

/** Provisioned and running (a VM whose instance view names no power state counts as running). */
export function vmReady(state: VmState): boolean {
  return state.provisioningState === 'Succeeded' && (state.powerState === undefined || state.powerState === 'running');
}
