import { useMutation } from "@tanstack/react-query";
import { type ReactNode, useEffect, useState } from "react";
import { api } from "../api.js";
import { AccountPanel } from "../auth/AccountPanel.js";
import { BackupsPanel } from "../backups/BackupsPanel.js";
import { KeysPanel } from "../keys/KeysPanel.js";
import { followLink, navigate, parseRoute, pathOf, type Route, usePath } from "../router.js";
import { useSession } from "../session.js";
import { ErrorAlert } from "../ui/Alert.js";
import { ConnectionBanner } from "../ui/connection.js";
import { DatabaseSwitcher, useDatabases } from "./DatabaseSwitcher.js";

export function Shell() {
  const route = parseRoute(usePath());
  const viewed = useViewedDatabase(route);
  const session = useSession();
  const logout = useMutation({
    mutationFn: () => api.auth.logout.mutate(),
    onSuccess: () => session.showLogin("You have logged out."),
  });

  return (
    <ConnectionBanner>
      <div className="app">
        <header className="topbar">
          <span className="brand">Chaos Cypher</span>
          <DatabaseSwitcher viewed={viewed} onSwitch={(database) => navigate({ page: "backups", database })} />
          <span className="spacer" />
          <span className="who">
            Signed in as <strong>{session.username}</strong>
          </span>
          <button type="button" onClick={() => logout.mutate()} disabled={logout.isPending}>
            Log out
          </button>
        </header>
        <ErrorAlert error={logout.error} />
        <div className="layout">
          <nav aria-label="Settings" className="sidenav">
            <h2>Settings</h2>
            <ul>
              <li>
                <span className="group">Maintenance</span>
                <ul>
                  <li>
                    <NavLink to={{ page: "backups", database: viewed }} current={route}>
                      Backups
                    </NavLink>
                  </li>
                </ul>
              </li>
              <li>
                <NavLink to={{ page: "keys" }} current={route}>
                  API Keys
                </NavLink>
              </li>
              <li>
                <NavLink to={{ page: "account" }} current={route}>
                  Account
                </NavLink>
              </li>
            </ul>
          </nav>
          <main className="content">
            <Page route={route} viewed={viewed} />
          </main>
        </div>
      </div>
    </ConnectionBanner>
  );
}

function Page({ route, viewed }: { route: Route; viewed: string | null }) {
  if (route.page === "keys") return <KeysPanel />;
  if (route.page === "account") return <AccountPanel />;
  return <BackupsPanel database={viewed} />;
}

/**
 * The database on screen: the one in the address; on a page without one, the last one viewed, else the server's
 * current database (and the address is filled in, so a reload or a shared link shows the same database).
 */
function useViewedDatabase(route: Route): string | null {
  const current = useDatabases().data?.current ?? null;
  const [lastViewed, setLastViewed] = useState<string | null>(null);
  const inPath = route.page === "backups" ? route.database : null;
  useEffect(() => {
    if (inPath) setLastViewed(inPath);
    else if (route.page === "backups" && current) navigate({ page: "backups", database: current }, { replace: true });
  }, [inPath, route.page, current]);
  return inPath ?? lastViewed ?? current;
}

function NavLink({ to, current, children }: { to: Route; current: Route; children: ReactNode }) {
  const here = to.page === current.page;
  return (
    <a href={pathOf(to)} aria-current={here ? "page" : undefined} onClick={(event) => followLink(event, to)}>
      {children}
    </a>
  );
}
