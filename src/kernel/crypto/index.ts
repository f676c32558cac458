export * from "./hmac.ts";
export * from "./secretbox.ts";
export * from "./sm2.ts";
export * from "./sm3.ts";
export * from "./sm4.ts";
export * from "./rsa.ts";
