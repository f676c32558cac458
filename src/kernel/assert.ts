import { InvariantError } from "./errors.ts";

/** Asserts what must hold. A failure is a bug in paycore, never a user error. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

export function assertNever(value: never, what: string): never {
  throw new InvariantError(`unexpected ${what}: ${String(value)}`);
}
