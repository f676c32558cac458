export * from "./hmac.ts";
export * from "./secretbox.ts";
