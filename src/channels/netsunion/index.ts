import type { Clock } from "../../kernel/clock.ts";
import type { Transport } from "../http.ts";
import { NetsUnionAdapter, type NetsUnionConfig } from "./adapter.ts";

export { NETSUNION_CAPABILITIES, NetsUnionAdapter, type NetsUnionConfig } from "./adapter.ts";

export function createNetsUnionAdapter(config: NetsUnionConfig, transport: Transport, clock: Clock): NetsUnionAdapter {
  return new NetsUnionAdapter(config, transport, clock);
}
