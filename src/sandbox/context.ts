import type { Clock } from "../kernel/clock.ts";
import type { Logger } from "../kernel/log.ts";
import type { Engine } from "./engine.ts";
import type { Faults } from "./faults.ts";
import type { NetworkKeys, PeerKeys } from "./keys.ts";
import type { Notifier } from "./notifier.ts";
import type { SandboxState } from "./persistence.ts";
import type { SeenMessages } from "./replay.ts";
import type { StatementFaults } from "./statement-faults.ts";
import type { StatementFiles } from "./statement-files.ts";

/** Everything a network's wire handler needs. */
export interface SandboxContext {
  engine: Engine;
  /** Where sandbox modules keep what must survive a restart (src/sandbox/persistence.ts). */
  state: SandboxState;
  faults: Faults;
  keys: NetworkKeys;
  peers: PeerKeys;
  seen: SeenMessages;
  notifier: Notifier;
  statement_faults: StatementFaults;
  statement_files: StatementFiles;
  clock: Clock;
  log: Logger;
}

/** A wire handler's answer: a response, or none at all (a `timeout` fault). */
export type WireAnswer = { kind: "answer"; status: number; content_type: string; body: string } | { kind: "no_answer" };
