//! Sextant's web console: the pages built from `ui/` (TypeScript, Preact, uPlot; see
//! `docs/console.md`), embedded in the binary and served under `/ui/` with no key. The pages
//! hold no data: they call Sextant's own APIs with the key the user signs in with, so the
//! console can do exactly what that key may.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;

/// The pages `build.rs` built, embedded.
#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/console"]
struct Pages;

/// Where the console is served.
pub const BASE: &str = "/ui";

/// The console's routes: `/ui` (redirected to `/ui/`), `/ui/` and the files under it.
pub fn routes() -> Router {
    Router::new()
        .route(BASE, get(|| async { Redirect::permanent("/ui/") }))
        .route(
            "/ui/",
            get(|headers: HeaderMap| async move { page("index.html", &headers) }),
        )
        .route(
            "/ui/{*path}",
            get(
                |Path(path): Path<String>, headers: HeaderMap| async move { page(&path, &headers) },
            ),
        )
}

/// The restrictions every page is served with: scripts, styles and calls only from this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'; \
     base-uri 'none'; form-action 'self'";

fn page(path: &str, headers: &HeaderMap) -> Response {
    // A path with no file behind it and no extension is one of the console's own views: the
    // page handles it.
    let (path, file) = match Pages::get(path) {
        Some(file) => (path, file),
        None if !path.rsplit('/').next().unwrap_or("").contains('.') => {
            match Pages::get("index.html") {
                Some(file) => ("index.html", file),
                None => return not_found(path),
            }
        }
        None => return not_found(path),
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    // Bundles carry their content's hash in their names and never change; the page may.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let set = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(file.metadata.mimetype()) {
        set.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        set.insert(header::ETAG, value);
    }
    set.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    set.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    set.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    set.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    response
}

fn not_found(path: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("the console has no file /ui/{path}\n"),
    )
        .into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn get(path: &str, etag: Option<&str>) -> Response {
        let mut request = Request::get(path);
        if let Some(etag) = etag {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        routes()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn serves_the_page_its_bundles_and_its_views() {
        let index = get("/ui/", None).await;
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(index.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = index.headers()[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(
            get("/ui/", Some(&etag)).await.status(),
            StatusCode::NOT_MODIFIED
        );

        // The page names its bundle, which is served to be kept for good.
        let body = axum::body::to_bytes(index.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        let Some(at) = body.find("/ui/assets/") else {
            // Built with SEXTANT_CONSOLE=off: the placeholder page says so.
            assert!(body.contains("SEXTANT_CONSOLE=off"), "{body}");
            return;
        };
        let bundle: String = body[at..].chars().take_while(|c| *c != '"').collect();
        let asset = get(&bundle, None).await;
        assert_eq!(asset.status(), StatusCode::OK, "{bundle}");
        assert!(
            asset.headers()[header::CACHE_CONTROL]
                .to_str()
                .unwrap()
                .contains("immutable")
        );

        // A view of the console is the page; a missing file is a 404 naming it.
        assert_eq!(get("/ui/explore", None).await.status(), StatusCode::OK);
        let missing = get("/ui/assets/none.js", None).await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            get("/ui", None).await.status(),
            StatusCode::PERMANENT_REDIRECT
        );
    }
}
