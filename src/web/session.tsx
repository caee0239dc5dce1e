import { createContext, useContext } from "react";

export interface Session {
  username: string;
  /** Leaves the app for the login screen, which shows `notice` (why the session ended). */
  showLogin(notice: string | null): Promise<void>;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside SessionContext");
  return session;
}
