import { useMutation } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { api } from "../api.js";
import { BackupsPanel } from "../backups/BackupsPanel.js";
import { KeysPanel } from "../keys/KeysPanel.js";
import { followLink, type Route, routes, useRoute } from "../router.js";
import { useSession } from "../session.js";
import { ErrorAlert } from "../ui/Alert.js";
import { DatabaseSwitcher } from "./DatabaseSwitcher.js";

export function Shell() {
  const route = useRoute();
  const session = useSession();
  const logout = useMutation({
    mutationFn: () => api.auth.logout.mutate(),
    onSuccess: () => session.showLogin("You have logged out."),
  });

  return (
    <div className="app">
      <header className="topbar">
        <span className="brand">Chaos Cypher</span>
        <DatabaseSwitcher />
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
                  <NavLink to={routes.backups} current={route}>
                    Backups
                  </NavLink>
                </li>
              </ul>
            </li>
            <li>
              <NavLink to={routes.keys} current={route}>
                API Keys
              </NavLink>
            </li>
          </ul>
        </nav>
        <main className="content">{route === routes.keys ? <KeysPanel /> : <BackupsPanel />}</main>
      </div>
    </div>
  );
}

function NavLink({ to, current, children }: { to: Route; current: Route; children: ReactNode }) {
  return (
    <a href={to} aria-current={to === current ? "page" : undefined} onClick={(event) => followLink(event, to)}>
      {children}
    </a>
  );
}
