import type { z } from "zod";
import { ERROR_STATUS, PaycoreError, type ErrorCode } from "../kernel/errors.ts";

export interface ErrorBody {
  error: { code: ErrorCode; message: string; request_id: string; field?: string };
}

export function errorBody(code: ErrorCode, message: string, request_id: string, field?: string): ErrorBody {
  return { error: { code, message, request_id, ...(field ? { field } : {}) } };
}

export function errorResponse(err: PaycoreError, request_id: string): { status: number; body: ErrorBody } {
  return { status: ERROR_STATUS[err.code], body: errorBody(err.code, err.message, request_id, err.field) };
}

const isMissing = (issue: z.core.$ZodIssue) => issue.code === "invalid_type" && / received undefined$/.test(issue.message);

/**
 * A Zod parse's problem as one `invalid_request` naming the field: every missing required field at
 * once (so a form is fixed in one go), else the first problem.
 */
export function zodToPaycoreError(error: z.ZodError, root: string): PaycoreError {
  const missing = error.issues.filter(isMissing).map((i) => [root, ...i.path.map(String)].filter(Boolean).join("."));
  if (missing.length > 1) return new PaycoreError("invalid_request", `${missing.join(", ")}: required`, missing[0]);
  const issue = error.issues[0]!;
  let path = [root, ...issue.path.map(String)].filter(Boolean);
  let message = issue.message;
  if (issue.code === "unrecognized_keys") {
    path = [...path, issue.keys[0] ?? ""];
    message = "unknown field";
  } else if (issue.code === "invalid_type" && / received undefined$/.test(issue.message)) {
    message = "required";
  }
  const field = path.join(".") || root;
  return new PaycoreError("invalid_request", `${field}: ${message}`, field);
}
