//! Builds the running service: database ready, routes wired, listener bound.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::{Cors, CorsError};
use actix_web::dev::{Server, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentType, HeaderName};
use actix_web::middleware::{Condition, ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpResponse, HttpServer, ResponseError, web};
use tokio::sync::{Notify, watch};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::actions::Services;
use crate::admission::{self, Admission};
use crate::attachments::AttachmentStore;
use crate::auth::generations::TokenGenerations;
use crate::auth::jwt::configured_keys;
use crate::auth::limiter::RegistrationLimiter;
use crate::auth::{JwtKeys, PasswordService};
use crate::coherence::Listener;
use crate::configuration::Settings;
use crate::db::group_commit::GroupCommit;
use crate::db::queries::districts::{count_districts, import_districts};
use crate::db::queries::members::admin_exists;
use crate::db::{Backend, Checkpoints, Db, under_startup_lock};
use crate::error::{
    ApiError, ErrorCode, KnownRoutes, json_error_handler, no_route, path_error_handler,
    query_error_handler,
};
use crate::idempotency::{self, IdempotencyConfig};
use crate::import::{KANAZAWA_DISTRICTS_CSV, parse_districts};
use crate::inbox_cache::InboxCache;
use crate::jobs;
use crate::openapi::document;
use crate::outbox::ChannelSender;
use crate::outbox::email::Mailer;
use crate::outbox::line::LineSender;
use crate::outbox::line_api::LineApi;
use crate::outbox::links::Links;
use crate::outbox::worker::OutboxWorker;
use crate::push::VapidKey;
use crate::push::sender::WebPushSender;
use crate::routes;
use crate::shared_secrets::{self, KEY_RING_RELOAD};
use crate::telemetry::spawn_blocking_with_tracing;
use crate::web::log::RedactedRootSpan;
use crate::web::setup::SetupLink;
use secrecy::{ExposeSecret, SecretString};

/// Where the OpenAPI document is served; the swagger page at /api/v1/docs/ reads it.
const OPENAPI_PATH: &str = "/api/v1/openapi.json";
/// Writes per group-commit transaction, and writes waiting for one (see db::group_commit).
const GROUP_COMMIT_MAX_BATCH: usize = 512;
const GROUP_COMMIT_QUEUE: usize = 4096;

pub struct Application {
    port: u16,
    inbox_cache: Arc<InboxCache>,
    server: Server,
    db: Db,
    push_worker: Arc<OutboxWorker>,
    email_worker: Option<Arc<OutboxWorker>>,
    line_worker: Arc<OutboxWorker>,
    stop_background: watch::Sender<bool>,
    background: Vec<tokio::task::JoinHandle<()>>,
    /// While no city admin exists: the one-time set-up page's token.
    setup_token: Option<SecretString>,
}

/// What handlers share besides the database.
struct Shared {
    keys: Arc<JwtKeys>,
    passwords: PasswordService,
    vapid: VapidKey,
    services: Services,
    setup_link: SetupLink,
}

impl Application {
    /// Prepares the database, then binds (port 0 picks a free port).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let data_dir = &settings.server.data_dir;
        crate::private_files::private_dir(data_dir)
            .map_err(|e| anyhow::anyhow!("cannot make {} private: {e}", data_dir.display()))?;
        let db = prepare(settings.clone(), true, Checkpoints::InBackground).await?;
        let Secrets {
            jwt: keys,
            vapid,
            link_key,
        } = load_secrets(&settings, &db).await?;
        let password_settings = settings.password.clone();
        let (concurrency, queue_ms) = (
            settings.auth.hash_slots(),
            settings.auth.hash_queue_timeout_ms,
        );
        let passwords = spawn_blocking_with_tracing(move || {
            PasswordService::new(password_settings, concurrency, queue_ms)
        })
        .await??;
        let addr = settings.socket_addr()?;
        let listener =
            TcpListener::bind(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        let port = listener.local_addr()?.port();
        let wake_push = Arc::new(Notify::new());
        let sender = Arc::new(WebPushSender::new(vapid.clone(), &settings.push)?);
        let wake_channels = [
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
            Arc::new(Notify::new()),
        ];
        let push_worker = Arc::new(OutboxWorker::new(
            db.background(),
            ChannelSender::Push(sender),
            wake_channels[0].clone(),
            &settings.push,
        ));
        let links = Links::new(
            &link_key,
            &public_url(&settings, listener.local_addr()?),
            settings.email.link_ttl_days,
        )?;
        let mailer = Mailer::new(
            &settings.email,
            Duration::from_secs(settings.push.send_timeout_secs),
            links.clone(),
        )?;
        let email_enabled = mailer.is_some();
        // Four mails per connection in flight: a batch ends well inside its claim.
        let email_batch = i64::try_from(settings.email.concurrency.saturating_mul(4)).unwrap_or(32);
        let email_worker = mailer.map(|mailer| {
            Arc::new(
                OutboxWorker::new(
                    db.background(),
                    ChannelSender::Email(Arc::new(mailer)),
                    wake_channels[1].clone(),
                    &settings.push,
                )
                .with_batch_size(email_batch),
            )
        });
        let line_api = Arc::new(LineApi::new(
            &settings.line,
            links.key(),
            Duration::from_secs(settings.push.send_timeout_secs),
        )?);
        // A few multicast requests per batch; each is one HTTP request, so a batch ends well
        // inside its claim.
        let line_batch =
            i64::try_from(settings.line.multicast_size.saturating_mul(4)).unwrap_or(2000);
        let line_worker = Arc::new(
            OutboxWorker::new(
                db.background(),
                ChannelSender::Line(Arc::new(LineSender::new(line_api.clone(), links.clone()))),
                wake_channels[2].clone(),
                &settings.push,
            )
            .with_batch_size(line_batch),
        );
        let inbox_cache = Arc::new(InboxCache::new(
            Duration::from_millis(settings.posts.inbox_cache_ttl_ms),
            settings.posts.inbox_cache_posts,
        ));
        let (setup_link, setup_token) = open_setup_if_needed(&db).await?;
        let token_generations = Arc::new(TokenGenerations::new(db.clone()));
        let services = Shared {
            keys: keys.clone(),
            passwords,
            vapid,
            services: Services {
                db: db.clone(),
                wake_push: wake_push.clone(),
                links,
                email_enabled,
                line: line_api,
                token_generations: token_generations.clone(),
                inbox_cache: inbox_cache.clone(),
                group_commit: GroupCommit::start(
                    db.clone(),
                    GROUP_COMMIT_MAX_BATCH,
                    GROUP_COMMIT_QUEUE,
                )?,
            },
            setup_link,
        };
        let server = run(listener, db.clone(), services, &settings)?;
        let (stop_background, stopped) = watch::channel(false);
        let mut background = vec![tokio::spawn(jobs::publish_scheduled_posts(
            db.background(),
            Duration::from_secs(settings.posts.scheduler_interval_secs),
            wake_push.clone(),
            inbox_cache.clone(),
            stopped.clone(),
        ))];
        background.push(tokio::spawn(jobs::checkpoint_wal(
            db.clone(),
            stopped.clone(),
        )));
        background.push(tokio::spawn(jobs::keep_token_generations_fresh(
            db.background(),
            token_generations.clone(),
            stopped.clone(),
        )));
        background.push(tokio::spawn(jobs::keep_read_book_warm(
            db.background(),
            inbox_cache.clone(),
            Duration::from_millis(settings.posts.inbox_cache_ttl_ms),
            stopped.clone(),
        )));
        background.push(tokio::spawn(jobs::keep_places_loaded(
            db.background(),
            inbox_cache.clone(),
            token_generations.clone(),
            stopped.clone(),
        )));
        background.push(tokio::spawn(jobs::prune_expired_keys(
            db.background(),
            Duration::from_secs(settings.idempotency.prune_interval_secs),
            stopped.clone(),
        )));
        if settings.backup.interval_secs > 0 {
            if db.backend() == Backend::Sqlite {
                background.push(tokio::spawn(jobs::run_scheduled_backups(
                    db.background(),
                    settings.server.data_dir.join("backups"),
                    Duration::from_secs(settings.backup.interval_secs),
                    settings.backup.keep,
                    stopped.clone(),
                )));
            } else {
                tracing::info!("scheduled backups are for SQLite; back up PostgreSQL with pg_dump");
            }
        }
        if settings.events.worker {
            background.push(tokio::spawn(jobs::remind_of_events(
                db.background(),
                settings.events.clone(),
                wake_push.clone(),
                stopped.clone(),
            )));
        }
        if email_enabled && settings.email.digest_worker {
            background.push(tokio::spawn(jobs::queue_email_digests(
                db.background(),
                settings.email.clone(),
                wake_push.clone(),
                stopped.clone(),
            )));
        }
        if db.backend() == Backend::Postgres && configured_keys(&settings.auth).is_none() {
            background.push(tokio::spawn(jobs::reload_key_ring(
                db.background(),
                keys,
                KEY_RING_RELOAD,
                stopped.clone(),
            )));
        }
        if settings.stats.worker {
            background.push(tokio::spawn(jobs::take_stats_snapshots(
                db.background(),
                settings.stats.clone(),
                stopped.clone(),
            )));
        }
        if let crate::db::DatabaseUrl::Postgres(url) = settings.database_url()? {
            let listener = Listener::new(
                url,
                inbox_cache.clone(),
                token_generations,
                wake_push.clone(),
                stopped.clone(),
            );
            background.push(tokio::task::spawn_blocking(move || listener.run()));
        }
        if settings.push.worker {
            background.push(tokio::spawn(crate::outbox::fan_out_wakes(
                wake_push,
                wake_channels.to_vec(),
                stopped.clone(),
            )));
            background.push(tokio::spawn(push_worker.clone().run(stopped.clone())));
            background.push(tokio::spawn(line_worker.clone().run(stopped.clone())));
            if let Some(worker) = &email_worker {
                background.push(tokio::spawn(worker.clone().run(stopped)));
            }
        }
        Ok(Self {
            port,
            inbox_cache,
            server,
            db,
            push_worker,
            email_worker,
            line_worker,
            stop_background,
            background,
            setup_token,
        })
    }

    /// The set-up page's path while no city admin exists (`/setup/<token>`), to print.
    pub fn setup_path(&self) -> Option<String> {
        self.setup_token
            .as_ref()
            .map(|token| format!("/setup/{}", token.expose_secret()))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn db(&self) -> Db {
        self.db.clone()
    }

    /// For tools that change posts or the roster behind the API and must say so.
    pub fn inbox_cache(&self) -> Arc<InboxCache> {
        self.inbox_cache.clone()
    }

    /// The push outbox worker, for tests that drain it on purpose.
    pub fn push_worker(&self) -> Arc<OutboxWorker> {
        self.push_worker.clone()
    }

    /// The email outbox worker (when `[email]` is configured), for tests.
    pub fn email_worker(&self) -> Option<Arc<OutboxWorker>> {
        self.email_worker.clone()
    }

    /// The LINE outbox worker, for tests.
    pub fn line_worker(&self) -> Arc<OutboxWorker> {
        self.line_worker.clone()
    }

    /// Serves until SIGTERM or Ctrl-C, then stops as `run_until_stopped` does.
    pub async fn run_until_signalled(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("stopping: finishing requests in flight");
            handle.stop(true).await;
        });
        self.run_until_stopped().await
    }

    /// Serves until stopped, lets requests in flight finish, then stops the background
    /// tasks (the push worker finishes and records its current batch).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let _ = self.stop_background.send(true);
        for task in self.background {
            let _ = task.await;
        }
        served
    }
}

/// The keys every instance of a deployment must share.
struct Secrets {
    jwt: Arc<JwtKeys>,
    vapid: VapidKey,
    /// base64url, for `Links`.
    link_key: String,
}

/// The access-token keys, the VAPID key and the mail links' key: from configuration or the
/// data folder, and on PostgreSQL from the database, so every instance sharing it has the
/// same ones.
async fn load_secrets(settings: &Settings, db: &Db) -> anyhow::Result<Secrets> {
    let data_dir = &settings.server.data_dir;
    if db.backend() == Backend::Sqlite {
        return Ok(Secrets {
            jwt: Arc::new(JwtKeys::load(&settings.auth, data_dir)?),
            vapid: VapidKey::load(&settings.push, data_dir)?,
            link_key: crate::outbox::links::key_from_data_dir(data_dir)?,
        });
    }
    let (db, shared) = (db.clone(), settings.clone());
    let (ring, vapid, link_key) = spawn_blocking_with_tracing(move || {
        under_startup_lock(&mut *db.get()?, |conn| {
            let dir = &shared.server.data_dir;
            let ring = shared_secrets::jwt_key_ring(conn, &shared.auth, dir)?;
            let vapid = shared_secrets::vapid_key(conn, &shared.push, dir)?;
            Ok((ring, vapid, shared_secrets::link_key(conn, dir)?))
        })
    })
    .await??;
    Ok(Secrets {
        jwt: Arc::new(JwtKeys::new(&settings.auth, ring)?),
        vapid,
        link_key,
    })
}

/// Where links in mails point: `web.public_url`, else the address this server listens on.
fn public_url(settings: &Settings, bound: std::net::SocketAddr) -> String {
    let configured = settings.web.public_url.trim();
    if !configured.is_empty() {
        return configured.to_string();
    }
    let host = if bound.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        bound.ip()
    };
    format!("http://{}", std::net::SocketAddr::new(host, bound.port()))
}

/// A set-up link when the database has no city admin yet.
async fn open_setup_if_needed(db: &Db) -> anyhow::Result<(SetupLink, Option<SecretString>)> {
    let has_admin = db
        .run(|conn| Ok(admin_exists(conn)?))
        .await
        .map_err(|e| anyhow::anyhow!("checking for a city admin: {e}"))?;
    Ok(if has_admin {
        (SetupLink::closed(), None)
    } else {
        let (link, token) = SetupLink::open();
        (link, Some(token))
    })
}

/// SIGTERM (service managers) or Ctrl-C (a terminal): both stop gracefully.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Connects, migrates, and (when `seed` and configured) on a first start loads the Kanazawa
/// districts. For tools: SQLite checkpoints as its commits go.
pub async fn prepare_database(settings: Settings, seed: bool) -> anyhow::Result<Db> {
    prepare(settings, seed, Checkpoints::OnCommit).await
}

async fn prepare(settings: Settings, seed: bool, checkpoints: Checkpoints) -> anyhow::Result<Db> {
    spawn_blocking_with_tracing(move || {
        let url = settings.database_url()?;
        tracing::info!(database = %url.redacted(), "opening database");
        let db = Db::connect_with(url.clone(), &settings.database, checkpoints)?;
        under_startup_lock(&mut *db.get()?, |conn| {
            if let Some(marker) = crate::demo::unfinished::repair(conn, &settings.server.data_dir)?
            {
                tracing::warn!(
                    started = %marker.started,
                    "a `kairan demo` was interrupted: its indexes are rebuilt, but the city is \
                     incomplete; to start again: {}",
                    crate::demo::unfinished::how_to_start_again(&url)
                );
            }
            if seed && settings.database.seed_kanazawa_districts && count_districts(conn)? == 0 {
                let records = parse_districts(KANAZAWA_DISTRICTS_CSV)?;
                let report = import_districts(conn, &records)?;
                tracing::info!(
                    inserted = report.inserted,
                    "loaded the Kanazawa district list"
                );
            }
            Ok(())
        })?;
        Ok(db)
    })
    .await?
}

/// Headers every answer carries: no MIME sniffing, no framing, no referrer leaking ids,
/// and HTTPS pinned once a proxy terminates TLS in front of us. (No CSP: the API answers
/// JSON, and the Swagger UI page needs its scripts.)
fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"))
        .add(("Strict-Transport-Security", "max-age=31536000"))
}

/// The Swagger page's policy: its scripts and styles are files of its own; React sets styles.
const SWAGGER_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// API answers carry personal data (rosters, receipts, member lists), so no cache keeps
/// them unless a handler says otherwise; the Swagger page gets its content policy.
async fn api_headers(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let docs = req.path().starts_with("/api/v1/docs");
    let api = req.path().starts_with("/api/");
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if docs {
        let csp = header::HeaderValue::from_static(SWAGGER_CSP);
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    } else if api && !headers.contains_key(header::CACHE_CONTROL) {
        let no_store = header::HeaderValue::from_static("no-store");
        headers.insert(header::CACHE_CONTROL, no_store);
    }
    Ok(res)
}

/// CORS for the configured browser origins only; with none configured, no CORS headers at
/// all. The API authenticates with bearer tokens, never cookies, so no credentials mode.
fn cors(origins: &[String]) -> Condition<Cors> {
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER, header::CONTENT_DISPOSITION])
        .max_age(3600);
    Condition::new(!origins.is_empty(), cors)
}

/// actix-cors refuses in plain text; our clients read `{"error", "message"}`.
fn cors_refusal_as_json<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let Some(refusal) = res
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
    else {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    };
    let json = ApiError::BadRequest(ErrorCode::CorsRefused, refusal.to_string()).error_response();
    Ok(ErrorHandlerResponse::Response(
        res.into_response(json).map_into_right_body(),
    ))
}

fn run(
    listener: TcpListener,
    db: Db,
    services: Shared,
    settings: &Settings,
) -> anyhow::Result<Server> {
    let db = web::Data::new(db);
    let keys = web::Data::from(services.keys);
    let passwords = web::Data::new(services.passwords);
    let vapid = web::Data::new(services.vapid);
    let wake_push = web::Data::new(services.services.wake_push.clone());
    let inbox_cache = web::Data::from(services.services.inbox_cache.clone());
    let token_generations = web::Data::from(services.services.token_generations.clone());
    let group_commit = web::Data::new(services.services.group_commit.clone());
    let setup_link = web::Data::new(services.setup_link);
    let services = web::Data::new(services.services);
    let push_settings = web::Data::new(settings.push.clone());
    let post_settings = web::Data::new(settings.posts.clone());
    let attachment_store = web::Data::new(match db.backend() {
        Backend::Sqlite => AttachmentStore::new(&settings.server.data_dir),
        Backend::Postgres => {
            AttachmentStore::in_database(&settings.server.data_dir, (**db).clone())
        }
    });
    let auth_settings = web::Data::new(settings.auth.clone());
    let registrations = web::Data::new(RegistrationLimiter::per_hour(
        settings.auth.max_registrations_per_address_hour,
    ));
    let idempotency = web::Data::new(IdempotencyConfig {
        key_ttl: Duration::from_secs(settings.idempotency.key_ttl_secs),
        json_limit_bytes: settings.server.json_limit_bytes,
        attachment_max_bytes: settings.posts.attachment_max_bytes,
        csv_max_bytes: crate::routes::roster::MAX_ROSTER_FILE_BYTES,
    });
    let stats_settings = web::Data::new(settings.stats.clone());
    let web_settings = web::Data::new(settings.web.clone());
    let json_config = web::JsonConfig::default()
        .limit(settings.server.json_limit_bytes)
        .error_handler(json_error_handler);
    let query_config = web::QueryConfig::default().error_handler(query_error_handler);
    let path_config = web::PathConfig::default().error_handler(path_error_handler);
    let api = document();
    let known_routes = web::Data::new(KnownRoutes::from_document(&api));
    // Served as written once: the document as a value takes megabytes, and the swagger page's
    // own way of serving it kept one copy per worker for the life of the server.
    let openapi_json = web::Bytes::from(serde_json::to_vec(&api)?);
    drop(api);
    let cors_origins = settings.server.cors_allowed_origins.clone();
    let admission = web::Data::new(Admission::new(
        settings.server.max_requests_in_progress,
        Duration::from_millis(settings.server.admission_wait_ms),
        settings.server.json_limit_bytes,
    ));
    let mut server = HttpServer::new(move || {
        // Before the /api/v1 scope, which would otherwise claim these paths.
        let docs = SwaggerUi::new("/api/v1/docs/{_:.*}").config(Config::from(OPENAPI_PATH));
        let openapi_json = openapi_json.clone();
        App::new()
            .wrap(actix_web::middleware::from_fn(admission::api))
            .wrap(actix_web::middleware::from_fn(idempotency::middleware))
            .wrap(actix_web::middleware::from_fn(api_headers))
            .wrap(cors(&cors_origins))
            .wrap(ErrorHandlers::new().handler(StatusCode::BAD_REQUEST, cors_refusal_as_json))
            .wrap(security_headers())
            .wrap(TracingLogger::<RedactedRootSpan>::new())
            .app_data(json_config.clone())
            .app_data(query_config.clone())
            .app_data(path_config.clone())
            .app_data(db.clone())
            .app_data(services.clone())
            .app_data(keys.clone())
            .app_data(passwords.clone())
            .app_data(auth_settings.clone())
            .app_data(registrations.clone())
            .app_data(post_settings.clone())
            .app_data(attachment_store.clone())
            .app_data(vapid.clone())
            .app_data(wake_push.clone())
            .app_data(inbox_cache.clone())
            .app_data(token_generations.clone())
            .app_data(group_commit.clone())
            .app_data(push_settings.clone())
            .app_data(idempotency.clone())
            .app_data(stats_settings.clone())
            .app_data(known_routes.clone())
            .app_data(web_settings.clone())
            .app_data(setup_link.clone())
            .app_data(admission.clone())
            .service(docs)
            .route(
                OPENAPI_PATH,
                web::get().to(move || {
                    let body = openapi_json.clone();
                    async move {
                        HttpResponse::Ok()
                            .content_type(ContentType::json())
                            .body(body)
                    }
                }),
            )
            .into_utoipa_app()
            .configure(routes::all)
            .into_app()
            .configure(crate::web::config)
            .default_service(web::to(no_route))
    })
    // Signals are handled in run_until_signalled, so Ctrl-C is as graceful as SIGTERM.
    .disable_signals()
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_secs(10));
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.listen(listener)?.run())
}
