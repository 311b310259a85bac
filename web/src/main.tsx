import { StrictMode, useEffect, useState, type FormEvent } from "react";
import { createRoot } from "react-dom/client";
import { adopt, describe, get, getSession, onSession, post, setSession, type Me } from "./api";
import { connectLive, disconnectLive } from "./live";
import { Notifications } from "./notifications";
import { FilesPage } from "./pages/files";
import { DatasetPage, DatasetsPage } from "./pages/datasets";
import { JobPage, JobsPage } from "./pages/jobs";
import { PromptStudio } from "./pages/prompts";
import { AuditPage, BillingPage, DataSourcesPage, PoliciesPage, WorkspacePage } from "./pages/admin";
import { ModelPage, ModelsPage } from "./pages/models";
import { MonitoringPage } from "./pages/monitoring";
import { DecisionsPage } from "./pages/decisions";
import { GovernancePage } from "./pages/governance";
import { OperationsPage } from "./pages/operations";
import { SemanticPage } from "./pages/semantic";
import "./styles.css";

/** The client's pages, by hash route. */
const NAV: { group: string; items: { path: string; label: string }[] }[] = [
  {
    group: "Data",
    items: [
      { path: "files", label: "Files" },
      { path: "datasets", label: "Datasets" },
      { path: "sources", label: "Data sources" },
      { path: "semantic", label: "Semantic layer" },
    ],
  },
  {
    group: "Compute",
    items: [
      { path: "jobs", label: "Jobs" },
      { path: "prompts", label: "Prompt Studio" },
    ],
  },
  {
    group: "Intelligence",
    items: [
      { path: "models", label: "Models" },
      { path: "monitoring", label: "Monitoring" },
      { path: "decisions", label: "Decisions" },
      { path: "governance", label: "Governance" },
    ],
  },
  {
    group: "Administration",
    items: [
      { path: "policies", label: "Policies" },
      { path: "audit", label: "Audit log" },
      { path: "billing", label: "Billing" },
      { path: "operations", label: "Operations" },
      { path: "workspace", label: "Workspace" },
    ],
  },
];

function useRoute(): string[] {
  const parse = () => (location.hash.replace(/^#\/?/, "") || "datasets").split("/");
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return route;
}

function AuthPage() {
  const [mode, setMode] = useState<"login" | "register">("login");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const body: Record<string, string> = { email: String(form.get("email")), password: String(form.get("password")) };
    if (mode === "register") body.display_name = String(form.get("display_name"));
    setBusy(true);
    setError(null);
    try {
      adopt(await post(`auth/${mode}`, body));
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="auth" id="main">
      <h1>RiverGen</h1>
      <div role="tablist" aria-label="Sign in or create an account" className="tabs">
        <button role="tab" aria-selected={mode === "login"} onClick={() => setMode("login")}>Sign in</button>
        <button role="tab" aria-selected={mode === "register"} onClick={() => setMode("register")}>Create account</button>
      </div>
      <form onSubmit={submit} aria-label={mode === "login" ? "Sign in" : "Create account"} className="card">
        {mode === "register" && (
          <label>Name<input name="display_name" required autoComplete="name" /></label>
        )}
        <label>Email<input name="email" type="email" required autoComplete="email" /></label>
        <label>Password<input name="password" type="password" required minLength={mode === "register" ? 10 : 1}
          autoComplete={mode === "login" ? "current-password" : "new-password"} /></label>
        {error && <p className="error" role="alert">{error}</p>}
        <button type="submit" disabled={busy}>{mode === "login" ? "Sign in" : "Create account"}</button>
      </form>
    </main>
  );
}

function Shell() {
  const route = useRoute();
  const [me, setMe] = useState<Me | null>(null);
  const [workspace, setWorkspace] = useState(getSession()?.workspace ?? "");
  const [menuOpen, setMenuOpen] = useState(false);
  const reloadMe = () => get<Me>("me").then(setMe).catch(() => undefined);
  useEffect(() => {
    reloadMe();
  }, [workspace]);
  useEffect(() => {
    connectLive(workspace);
    return () => disconnectLive();
  }, [workspace]);
  function switchTo(id: string) {
    const s = getSession();
    if (s) setSession({ ...s, workspace: id });
    setWorkspace(id);
  }
  async function logout() {
    try {
      await post("auth/logout");
    } finally {
      setSession(null);
      location.hash = "";
    }
  }
  const page = route[0];
  const current = me?.workspaces.find((w) => w.id === workspace);
  return (
    <div className="shell">
      <a className="skip" href="#main" onClick={(e) => { e.preventDefault(); document.getElementById("main")?.focus(); }}>Skip to content</a>
      <header className="top">
        <button className="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>Menu</button>
        <span className="brand">RiverGen</span>
        <label className="switcher">
          <span className="sr-only">Workspace</span>
          <select aria-label="Workspace" value={workspace} onChange={(e) => switchTo(e.target.value)}>
            {me?.workspaces.map((w) => <option key={w.id} value={w.id}>{w.name} ({w.role})</option>)}
          </select>
        </label>
        <Notifications workspace={workspace} />
        <span className="who" aria-label="Signed in as">{me?.display_name ?? ""}</span>
        <button onClick={logout}>Sign out</button>
      </header>
      <nav id="nav" aria-label="Main" className={menuOpen ? "open" : ""}>
        {NAV.map((g) => (
          <div key={g.group} className="nav-group">
            <h3 id={`nav-${g.group}`}>{g.group}</h3>
            <ul aria-labelledby={`nav-${g.group}`}>
              {g.items.map((item) => (
                <li key={item.path}>
                  <a href={`#/${item.path}`} aria-current={page === item.path ? "page" : undefined}
                    onClick={() => setMenuOpen(false)}>{item.label}</a>
                </li>
              ))}
            </ul>
          </div>
        ))}
      </nav>
      <main id="main" tabIndex={-1} key={workspace}>
        {page === "files" && <FilesPage />}
        {page === "datasets" && !route[1] && <DatasetsPage />}
        {page === "datasets" && route[1] && <DatasetPage id={route[1]} />}
        {page === "sources" && <DataSourcesPage />}
        {page === "semantic" && <SemanticPage role={current?.role} />}
        {page === "jobs" && !route[1] && <JobsPage />}
        {page === "jobs" && route[1] && <JobPage id={route[1]} />}
        {page === "prompts" && <PromptStudio />}
        {page === "models" && !route[1] && <ModelsPage />}
        {page === "models" && route[1] && <ModelPage id={route[1]} />}
        {page === "monitoring" && <MonitoringPage id={route[1]} />}
        {page === "decisions" && <DecisionsPage id={route[1]} />}
        {page === "governance" && <GovernancePage role={current?.role} />}
        {page === "operations" && <OperationsPage operator={me?.operator} role={current?.role} />}
        {page === "policies" && <PoliciesPage />}
        {page === "audit" && <AuditPage />}
        {page === "billing" && <BillingPage />}
        {page === "workspace" && <WorkspacePage current={current} me={me} onChanged={reloadMe}
          onCreated={(id) => { reloadMe(); switchTo(id); }}
          onLeft={() => { const own = me?.default_workspace_id; reloadMe(); if (own) switchTo(own); }} />}
      </main>
    </div>
  );
}

function App() {
  const [signedIn, setSignedIn] = useState(getSession() !== null);
  useEffect(() => onSession((s) => setSignedIn(s !== null)), []);
  return signedIn ? <Shell /> : <AuthPage />;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
