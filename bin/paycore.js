#!/usr/bin/env node
// The `paycore` command: runs the CLI from the JavaScript build in dist/ (built first if needed).
import { launch } from "./launch.js";

await launch("cli/main");
