// The view lives in the URL's fragment (`#/explore?s=cpu&from=…&to=…`), so that a view can be
// bookmarked and shared, and the browser's back button goes to the previous view.

import { useEffect, useState } from "preact/hooks";

export interface Route {
  page: string;
  params: URLSearchParams;
}

export function current(): Route {
  const hash = location.hash.replace(/^#\/?/, "");
  const [page, query = ""] = hash.split("?", 2);
  return { page: page || "explore", params: new URLSearchParams(query) };
}

export function href(page: string, params?: URLSearchParams): string {
  const query = params?.toString();
  return `#/${page}${query ? `?${query}` : ""}`;
}

/** Goes to `page` with `params`; `replace` changes the current history entry instead. */
export function go(page: string, params?: URLSearchParams, replace = false): void {
  const url = href(page, params);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const changed = () => setRoute(current());
    window.addEventListener("hashchange", changed);
    window.addEventListener("popstate", changed);
    return () => {
      window.removeEventListener("hashchange", changed);
      window.removeEventListener("popstate", changed);
    };
  }, []);
  return route;
}
