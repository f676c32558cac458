#!/usr/bin/env node
// The `paycore` command: runs the TypeScript CLI through tsx (no build step on Node 20).
import { register } from "tsx/esm/api";
register();
await import("../src/cli/main.ts");
