export * from "./operators.ts";
export * from "./audit.ts";
