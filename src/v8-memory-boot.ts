/**
 * Imported first by main.ts, for its side effect: the V8 heap sizing of v8-memory.ts is in place
 * before the rest of the module graph is loaded (ES modules evaluate in import order). main.ts
 * calls `v8Memory.startGrowing()` once the daemon is up.
 */
import { applyV8MemoryPlan, v8MemoryPlan, type V8Memory } from './v8-memory.js';

export const v8Memory: V8Memory = applyV8MemoryPlan(v8MemoryPlan(process.execArgv, process.env['NODE_OPTIONS']));
