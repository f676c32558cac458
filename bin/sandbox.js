#!/usr/bin/env node
// The sandbox networks on their own (`npm run sandbox`), from the JavaScript build in dist/.
import { launch } from "./launch.js";

await launch("sandbox/main");
