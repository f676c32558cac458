export * from "./agreement-routing.ts";
