#!/usr/bin/env -S node --disable-warning=ExperimentalWarning
// The `kiln` bin: Node 22 runs the TypeScript CLI directly (type stripping), so no build step is needed.
import '../cli/main.ts';
