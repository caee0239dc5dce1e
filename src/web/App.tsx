import { type QueryClient, QueryClientProvider, useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { api, type Outputs, queryKeys } from "./api.js";
import { LoginScreen, SetupScreen } from "./auth/AuthScreens.js";
import { createQueryClient } from "./query-client.js";
import { type Session, SessionContext } from "./session.js";
import { Shell } from "./shell/Shell.js";
import { ErrorAlert } from "./ui/Alert.js";

type AuthStatus = Outputs["auth"]["status"];

const SESSION_ENDED = "Your session has ended. Log in again to continue.";

export function App() {
  const [loginNotice, setLoginNotice] = useState<string | null>(null);
  const [client] = useState<QueryClient>(() => {
    const queryClient = createQueryClient(() => {
      // A call answered 401 once the operator is already logged out (one in flight as they pressed Log out) has not
      // ended anything: the notice they were given ("You have logged out.") stays.
      if (queryClient.getQueryData<AuthStatus>(queryKeys.status)?.authenticated === false) return;
      setLoginNotice(SESSION_ENDED);
      markLoggedOut(queryClient);
    });
    return queryClient;
  });
  return (
    <QueryClientProvider client={client}>
      <Gate loginNotice={loginNotice} setLoginNotice={setLoginNotice} />
    </QueryClientProvider>
  );
}

/** Shows the login screen at once, then asks the server what is true (a 401 may have been a stale cookie). */
function markLoggedOut(client: QueryClient) {
  client.setQueryData<AuthStatus>(
    queryKeys.status,
    (old) => old && { ...old, authenticated: false, username: undefined },
  );
  return client.invalidateQueries({ queryKey: queryKeys.status });
}

interface GateProps {
  loginNotice: string | null;
  setLoginNotice(notice: string | null): void;
}

/** First run → setup; no session → login; else the app. Never a blank screen: loading and errors are shown. */
function Gate({ loginNotice, setLoginNotice }: GateProps) {
  const client = useQueryClient();
  const status = useQuery({ queryKey: queryKeys.status, queryFn: () => api.auth.status.query() });
  const username = status.data?.authenticated ? (status.data.username ?? "") : null;

  const session = useMemo<Session | null>(
    () =>
      username === null
        ? null
        : {
            username,
            showLogin: async (notice) => {
              setLoginNotice(notice);
              await markLoggedOut(client);
            },
          },
    [username, client, setLoginNotice],
  );

  const loggedIn = (name: string) => {
    setLoginNotice(null);
    // Nothing cached for a previous session (or a database since restored) may leak into this one.
    client.removeQueries({ predicate: (query) => query.queryKey[0] !== queryKeys.status[0] });
    client.setQueryData<AuthStatus>(queryKeys.status, { setup_needed: false, authenticated: true, username: name });
  };

  if (!status.data) {
    return (
      <main className="centered">
        {status.isError ? (
          <div className="card">
            <h1>Chaos Cypher</h1>
            <ErrorAlert error={status.error} />
            <button type="button" className="primary" onClick={() => status.refetch()}>
              Try again
            </button>
          </div>
        ) : (
          <p role="status">Loading…</p>
        )}
      </main>
    );
  }
  if (status.data.setup_needed) return <SetupScreen onDone={loggedIn} />;
  if (!session) return <LoginScreen notice={loginNotice} onDone={loggedIn} />;
  return (
    <SessionContext.Provider value={session}>
      <Shell />
    </SessionContext.Provider>
  );
}
