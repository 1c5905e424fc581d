import { useEffect, useState } from "preact/hooks";

import { Admin } from "./admin";
import { ApiError, call, paths, SIGNED_OUT, signOut, storeKey, storedKey, type Whoami } from "./api";
import { Explore } from "./explore";
import { href, useRoute, type Route } from "./route";
import { Collections } from "./collections";
import { Rules } from "./rules";
import { RunPage, Runs } from "./runs";
import { SignalFlow } from "./signalflow";
import { SignIn } from "./signin";

function page(route: Route) {
  switch (route.page) {
    case "admin":
      return <Admin />;
    case "signalflow":
      return <SignalFlow />;
    case "collections":
      return <Collections route={route} />;
    case "rules":
      return <Rules />;
    case "runs":
      return <Runs />;
    case "run":
      return <RunPage route={route} />;
    default:
      return <Explore route={route} />;
  }
}

export function App() {
  const [who, setWho] = useState<Whoami | null>(null);
  const [checking, setChecking] = useState(storedKey() !== null);
  const route = useRoute();

  // A key kept from an earlier visit: still good?
  useEffect(() => {
    if (!checking) return;
    call<Whoami>(paths.whoami)
      .then(setWho)
      .catch((e) => {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) storeKey(null);
      })
      .finally(() => setChecking(false));
  }, []);

  useEffect(() => {
    const out = () => setWho(null);
    window.addEventListener(SIGNED_OUT, out);
    return () => window.removeEventListener(SIGNED_OUT, out);
  }, []);

  if (checking) return <p class="hint">Signing in…</p>;
  if (!who) return <SignIn onSignedIn={setWho} />;
  const admin = who.scopes.includes("admin");
  return (
    <>
      <header>
        <strong>Sextant</strong>
        <nav>
          <a href={href("explore")} class={route.page === "explore" ? "on" : ""}>
            Explore
          </a>
          <a href={href("runs")} class={route.page.startsWith("run") ? "on" : ""}>
            Runs
          </a>
          <a href={href("rules")} class={route.page === "rules" ? "on" : ""}>
            Rules
          </a>
          <a href={href("signalflow")} class={route.page === "signalflow" ? "on" : ""}>
            SignalFlow
          </a>
          <a href={href("collections")} class={route.page === "collections" ? "on" : ""}>
            Collections
          </a>
          {admin && (
            <a href={href("admin")} class={route.page === "admin" ? "on" : ""}>
              Admin
            </a>
          )}
        </nav>
        <span class="who" id="who">
          {who.key_name} ({who.scopes.join(", ")}) · {who.organization_id}
        </span>
        <button
          id="sign-out"
          onClick={() => {
            void signOut().then(() => setWho(null));
          }}
        >
          Sign out
        </button>
      </header>
      {page(route)}
    </>
  );
}
