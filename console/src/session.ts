import { createContext, useContext } from "react";

/** GET /admin/v1/session: who is signed in and what the admin API lets that role do. */
export interface Session {
  operator_id: string;
  name: string;
  role: "admin" | "operator" | "auditor";
  /** `METHOD /admin/v1/path/:param` for every admin operation the role may call. */
  allowed: string[];
  /** Proposal kinds the role may approve (never its own proposals). */
  approves: string[];
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session | null {
  return useContext(SessionContext);
}

/**
 * `can("PATCH /admin/v1/channels/:channel_id")`: whether the admin API would accept this call from
 * the signed-in role. Buttons show only when it would (an auditor sees no buttons that change).
 */
export function useCan(): (operation: string) => boolean {
  const s = useContext(SessionContext);
  return (operation) => Boolean(s?.allowed.includes(operation));
}
