// Sign-in: an API key, or a user's e-mail address and password, which `POST /v2/session`
// exchanges for a session key (docs/security.md). Either way the console then holds one key.

import { useState } from "preact/hooks";

import { call, paths, storeKey, type Whoami } from "./api";
import { Alert, errorText } from "./alert";

export function SignIn(props: { onSignedIn(who: Whoami): void }) {
  const [key, setKey] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function withKey(candidate: string, session = false) {
    const who = await call<Whoami>(paths.whoami, { key: candidate });
    storeKey(candidate, session);
    props.onSignedIn(who);
  }

  async function submit(e: Event, how: () => Promise<void>) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await how();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="signin">
      <h1>Sextant</h1>
      <form id="signin-key" onSubmit={(e) => submit(e, () => withKey(key.trim()))}>
        <label>
          API key
          <input name="key" type="password" autocomplete="off" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy || !key.trim()}>
          Sign in with the key
        </button>
      </form>
      <p class="or">or</p>
      <form
        id="signin-password"
        onSubmit={(e) =>
          submit(e, async () => {
            const session = await call<{ accessToken: string }>(paths.session, {
              method: "POST",
              body: { email, password },
              key: "",
            });
            await withKey(session.accessToken, true);
          })
        }
      >
        <label>
          E-mail
          <input name="email" type="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <button type="submit" disabled={busy || !email || !password}>
          Sign in
        </button>
      </form>
      <Alert error={error} />
    </main>
  );
}
