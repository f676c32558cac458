import { pino, type Logger, type DestinationStream } from "pino";
import { maskText, redact } from "./mask.ts";

export type { Logger };

/**
 * pino with masking: every string that reaches a log line goes through `maskText`, and known
 * sensitive keys are replaced, at any depth. Secrets never reach the output.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: {
        log: (object) => redact(object) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          const masked = args.map((a) => (typeof a === "string" ? maskText(a) : a));
          return method.apply(this, masked as Parameters<typeof method>);
        },
      },
    },
    destination,
  );
}
