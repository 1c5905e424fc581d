// Admin: the organization's API keys (create with a scope, revoke) and users. Needs an admin
// key; other keys see the server's refusal.

import { useEffect, useState } from "preact/hooks";

import { call, paths, type ApiKey } from "./api";
import { Alert, errorText } from "./alert";

interface User {
  user_id: string;
  name: string;
}

const SCOPES = ["read", "ingest", "admin"];

export function Admin() {
  const [keys, setKeys] = useState<ApiKey[]>([]);
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState("read");
  const [secret, setSecret] = useState<string | null>(null);
  const [userName, setUserName] = useState("");

  async function run(what: () => Promise<void>) {
    setError(null);
    try {
      await what();
    } catch (e) {
      setError(errorText(e));
    }
  }

  const load = () =>
    run(async () => {
      setKeys((await call<{ keys: ApiKey[] }>(paths.keys)).keys);
      setUsers((await call<{ users: User[] }>(paths.users)).users);
    });
  useEffect(() => void load(), []);

  return (
    <main class="admin">
      <h2>API keys</h2>
      <Alert error={error} />
      <form
        id="create-key"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            const made = await call<{ key: ApiKey; secret: string }>(paths.keys, {
              method: "POST",
              body: { name, scopes: [scope] },
            });
            setSecret(made.secret);
            setName("");
            await load();
          });
        }}
      >
        <input name="name" placeholder="Name of the new key" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        <select name="scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
          {SCOPES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <button type="submit" disabled={!name.trim()}>
          Create key
        </button>
      </form>
      {secret && (
        <p class="secret" id="new-secret">
          The new key, shown once: <code>{secret}</code>
        </p>
      )}
      <table id="keys">
        <thead>
          <tr>
            <th>Name</th>
            <th>Id</th>
            <th>Scopes</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.key_id} class={k.revoked ? "revoked" : ""}>
              <td>{k.name}</td>
              <td>
                <code>{k.key_id}</code>
              </td>
              <td>{k.scopes.join(", ")}</td>
              <td>{new Date(k.created_at / 1e6).toISOString()}</td>
              <td>
                {k.revoked ? (
                  "revoked"
                ) : (
                  <button
                    class="revoke"
                    onClick={() =>
                      void run(async () => {
                        await call(`${paths.keys}/${encodeURIComponent(k.key_id)}`, { method: "DELETE" });
                        await load();
                      })
                    }
                  >
                    Revoke
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>Users</h2>
      <form
        id="create-user"
        onSubmit={(e) => {
          e.preventDefault();
          void run(async () => {
            await call(paths.users, { method: "POST", body: { name: userName } });
            setUserName("");
            await load();
          });
        }}
      >
        <input name="user" placeholder="Name or e-mail address" value={userName} onInput={(e) => setUserName(e.currentTarget.value)} />
        <button type="submit" disabled={!userName.trim()}>
          Add user
        </button>
      </form>
      <ul id="users">
        {users.map((u) => (
          <li key={u.user_id}>{u.name}</li>
        ))}
      </ul>
    </main>
  );
}
