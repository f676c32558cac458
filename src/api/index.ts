export { buildServer } from "./server.ts";
export { allRoutes } from "./routes/index.ts";
export { sweepExpired } from "./sweeper.ts";
export { AUTH_SCHEME, requestStringToSign, responseStringToSign } from "./merchant-auth.ts";
