//! Static files compiled into the binary and served under content-hashed names
//! (`/static/app.3f2a9c1b.css`) that browsers may keep for a year; templates name them
//! through `asset_url`. The service worker and the manifest keep fixed names.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/web/static/",
                $name
            )),
        }
    };
}

/// Every file under `src/web/static/` except the service worker. Add a line per new file.
const FILES: &[Asset] = &[
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("officer.css", "text/css; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("read-aloud.js", "text/javascript; charset=utf-8"),
    asset!("icon.svg", "image/svg+xml"),
    asset!("icon-192.png", "image/png"),
    asset!("icon-512.png", "image/png"),
];

const SERVICE_WORKER: &str = include_str!("static/sw.js");

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

struct Hashed {
    /// name → its URL with the hash.
    urls: HashMap<&'static str, String>,
    /// file part of the URL → the asset.
    by_file: HashMap<String, &'static Asset>,
    /// Changes whenever any asset does: the service worker's cache version.
    version: String,
}

static HASHED: LazyLock<Hashed> = LazyLock::new(|| {
    let mut urls = HashMap::new();
    let mut by_file = HashMap::new();
    let mut all = Sha256::new();
    for asset in FILES {
        let digest = Sha256::digest(asset.bytes);
        all.update(digest);
        let hash: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
        let file = match asset.name.rsplit_once('.') {
            Some((stem, extension)) => format!("{stem}.{hash}.{extension}"),
            None => format!("{}.{hash}", asset.name),
        };
        urls.insert(asset.name, format!("/static/{file}"));
        by_file.insert(file, asset);
    }
    all.update(SERVICE_WORKER.as_bytes());
    let version = all
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    Hashed {
        urls,
        by_file,
        version,
    }
});

/// The hashed URL of a file under `src/web/static/`, e.g. `asset_url("app.css")`.
pub fn asset_url(name: &str) -> &'static str {
    HASHED.urls.get(name).map_or_else(
        || {
            tracing::warn!(name, "no such asset");
            "/static/missing"
        },
        String::as_str,
    )
}

/// What the service worker keeps for offline use from the start: the app shell.
fn shell_urls() -> Vec<&'static str> {
    let mut urls: Vec<&'static str> = FILES.iter().map(|a| asset_url(a.name)).collect();
    urls.sort_unstable();
    urls
}

pub fn config(cfg: &mut ServiceConfig) {
    cfg.route("/static/{file}", web::get().to(static_file))
        .route("/sw.js", web::get().to(service_worker))
        .route("/manifest.webmanifest", web::get().to(manifest));
}

async fn static_file(req: HttpRequest) -> HttpResponse {
    let file = req.match_info().get("file").unwrap_or_default();
    match HASHED.by_file.get(file) {
        Some(asset) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, asset.content_type))
            .insert_header((CACHE_CONTROL, IMMUTABLE))
            .body(asset.bytes),
        None => HttpResponse::NotFound()
            .insert_header((CACHE_CONTROL, "no-store"))
            .finish(),
    }
}

/// The service worker under a fixed name at the root (its scope is the whole site),
/// never cached by HTTP, with the shell's hashed URLs and the version on its first line.
async fn service_worker() -> HttpResponse {
    let shell = serde_json::to_string(&shell_urls()).unwrap_or_else(|_| "[]".into());
    let body = format!(
        "self.KAIRAN_VERSION = \"{}\";\nself.KAIRAN_SHELL = {shell};\n{SERVICE_WORKER}",
        HASHED.version
    );
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/javascript; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("Service-Worker-Allowed", "/"))
        .body(body)
}

async fn manifest() -> HttpResponse {
    let manifest = serde_json::json!({
        "name": "回覧板 kairan",
        "short_name": "回覧板",
        "description": "町会の電子回覧板",
        "lang": "ja",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b6b3a",
        "icons": [
            {"src": asset_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
            {"src": asset_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": asset_url("icon-512.png"), "sizes": "512x512", "type": "image/png", "purpose": "any maskable"},
        ],
    });
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "application/manifest+json"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .body(manifest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_a_hashed_url_that_serves_it() {
        for asset in FILES {
            let url = asset_url(asset.name);
            assert!(url.starts_with("/static/"), "{url}");
            assert_ne!(url, format!("/static/{}", asset.name));
            let file = url.trim_start_matches("/static/");
            assert_eq!(HASHED.by_file[file].name, asset.name);
        }
        assert_eq!(asset_url("nope.css"), "/static/missing");
    }
}
