//! A database that goes away: requests fail fast with 503 and the service recovers alone.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

/// The promise: an answer within this, even while the database is gone.
const FAIL_FAST: Duration = Duration::from_secs(2);

struct Circular {
    city: City,
    post: String,
}

async fn city_with_a_circular(app: &TestApp) -> Circular {
    let city = City::build(app).await;
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "断水のお知らせ",
        "body": "明日は断水します。",
        "requires_confirmation": true,
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let post = str_field(&created, "id");
    Circular { city, post }
}

/// Sends a request, checks it is a fast 503 `database_unavailable` with Retry-After.
async fn assert_fast_503(request: reqwest::RequestBuilder, what: &str) {
    let started = Instant::now();
    let response = request.send().await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), 503, "{what}");
    assert!(took < FAIL_FAST, "{what} took {took:?}");
    assert_eq!(
        response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("1"),
        "{what}"
    );
    assert_eq!(error_code(response).await, "database_unavailable", "{what}");
}

fn confirm(app: &TestApp, c: &Circular) -> reqwest::RequestBuilder {
    app.client
        .post(app.url(&format!("/api/v1/posts/{}/confirm", c.post)))
        .bearer_auth(&c.city.resident_h1.access_token)
}

fn read_post(app: &TestApp, c: &Circular) -> reqwest::RequestBuilder {
    app.client
        .get(app.url(&format!("/api/v1/posts/{}", c.post)))
        .bearer_auth(&c.city.resident_h1.access_token)
}

/// Many requests at once while the database is gone: every one fails fast, none piles up
/// behind the others' timeouts.
async fn assert_burst_fails_fast(app: &TestApp, c: &Circular) {
    let burst = (0..24).map(|i| {
        let request = if i % 2 == 0 {
            confirm(app, c)
        } else {
            read_post(app, c)
        };
        assert_fast_503(request, "request in a burst")
    });
    futures_util::future::join_all(burst).await;
}

/// Once the database is back, the service notices by itself; the failed requests changed
/// nothing, and the same requests now succeed.
async fn assert_recovers(app: &TestApp, c: &Circular) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = app.get("/readyz").await.status();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            Instant::now() < deadline,
            "still not ready 10 s after the database returned"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let post = expect_json(read_post(app, c).send().await.unwrap(), 200).await;
    assert_eq!(
        post["confirmed"], false,
        "a refused confirmation left no trace"
    );
    assert_eq!(confirm(app, c).send().await.unwrap().status(), 204);
    let post = expect_json(read_post(app, c).send().await.unwrap(), 200).await;
    assert_eq!(post["confirmed"], true);
}

fn sqlite_path(app: &TestApp) -> String {
    app.database.url.trim_start_matches("sqlite://").to_string()
}

#[tokio::test]
async fn a_locked_sqlite_file_gets_fast_503s_and_the_service_recovers() {
    let app = spawn_app().await;
    if app.database.is_postgres() {
        return; // The PostgreSQL outage has its own test below.
    }
    let c = city_with_a_circular(&app).await;

    // Another process takes the write lock and keeps it.
    let mut other = diesel::SqliteConnection::establish(&sqlite_path(&app)).unwrap();
    other.batch_execute("BEGIN EXCLUSIVE").unwrap();

    assert_fast_503(confirm(&app, &c), "a write while locked").await;
    assert_fast_503(app.client.get(app.url("/readyz")), "/readyz while locked").await;
    assert_burst_fails_fast(&app, &c).await;
    assert_eq!(
        app.get("/livez").await.status(),
        200,
        "the process itself is fine"
    );

    other.batch_execute("ROLLBACK").unwrap();
    assert_recovers(&app, &c).await;
}

/// A TCP hop between the server and PostgreSQL that can be cut (open connections reset,
/// new ones refused) and restored, so the shared PostgreSQL server itself is never stopped.
/// It runs on a thread of its own: the test's runtime may block on a database call.
struct CuttableProxy {
    address: SocketAddr,
    cut: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl CuttableProxy {
    fn start(upstream: String) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let connections: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (cut_flag, hops) = (cut.clone(), connections.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let accept = async {
                    while let Ok((mut client, _)) = listener.accept().await {
                        if cut_flag.load(Ordering::SeqCst) {
                            continue; // dropped: the client sees its connection closed
                        }
                        let upstream = upstream.clone();
                        let hop = tokio::spawn(async move {
                            if let Ok(mut server) = TcpStream::connect(&upstream).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                        hops.lock().unwrap().push(hop);
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
        });
        Self {
            address,
            cut,
            connections,
            stop: Some(stop),
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for hop in self.connections.lock().unwrap().drain(..) {
            hop.abort();
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `host:port` of a postgres:// URL.
fn host_and_port(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after_scheme.split(['/', '?']).next().unwrap_or_default();
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:5432")
    }
}

#[tokio::test]
async fn an_unreachable_postgresql_gets_fast_503s_and_the_service_recovers() {
    let Ok(maintenance_url) = std::env::var("KAIRAN_TEST_DATABASE_URL") else {
        return; // SQLite run: the SQLite outage tests above cover it.
    };
    if maintenance_url.is_empty() {
        return;
    }
    let upstream = host_and_port(&maintenance_url);
    let proxy = CuttableProxy::start(upstream);
    let through_proxy = proxy.address.to_string();
    let app = spawn_app_with(|s| {
        let original = host_and_port(&s.database.url);
        s.database.url = s.database.url.replacen(&original, &through_proxy, 1);
    })
    .await;
    assert!(app.database.is_postgres());
    let c = city_with_a_circular(&app).await;
    // The pool holds live connections through the proxy, as in production. (Not a read of
    // the circular: that would be kept in memory and answered from there for the TTL,
    // outage or not.)
    assert_eq!(app.get("/readyz").await.status(), 200);

    proxy.cut();
    assert_fast_503(
        read_post(&app, &c),
        "a read while PostgreSQL is unreachable",
    )
    .await;
    assert_fast_503(confirm(&app, &c), "a write while PostgreSQL is unreachable").await;
    assert_fast_503(
        app.client.get(app.url("/readyz")),
        "/readyz while unreachable",
    )
    .await;
    assert_burst_fails_fast(&app, &c).await;
    // Still down after the breaker's probe interval: probes fail fast too.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_fast_503(
        app.client.get(app.url("/readyz")),
        "/readyz still unreachable",
    )
    .await;
    assert_burst_fails_fast(&app, &c).await;

    proxy.restore();
    assert_recovers(&app, &c).await;
}
