//! The `kairan` command line: serve (the default), migrate, import, admin, backup, stats, demo.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::SecretString;

use crate::actions::sessions::{self, AdminOrigin};
use crate::auth::password::{check_new_password, hash_password};
use crate::backup::{backup_to, partial_backup_path};
use crate::configuration::{Settings, get_configuration};
use crate::db::queries::{districts, stats};
use crate::db::{AnyConnectionManager, DatabaseUrl, under_startup_lock};
use crate::demo::{DemoOptions, Refusal, Scale, check_push_endpoint};
use crate::domain::{Login, Month, OneLine};
use crate::import::parse_districts;
use crate::progress::{self, Activity};
use crate::startup::{Application, prepare_database};
use crate::telemetry::init_subscriber;

#[derive(Parser)]
#[command(
    name = "kairan",
    version,
    about = "Electronic circular board server for town associations"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Load data from CSV files.
    Import {
        #[command(subcommand)]
        what: ImportCommand,
    },
    /// Copy the live SQLite database to FILE (consistent while the server runs). On
    /// PostgreSQL, use pg_dump instead.
    Backup { file: PathBuf },
    /// Manage city administrators.
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
    /// The adoption dashboard's monthly figures.
    Stats {
        #[command(subcommand)]
        action: StatsCommand,
    },
    /// Fill an empty database with a demo city and print its logins.
    Demo(DemoArgs),
    /// The access-token key ring shared by the instances of a PostgreSQL deployment.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key: every instance starts signing with it within a minute, and
    /// the old keys verify until the tokens they signed expire.
    Rotate,
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Store the figures now: every month with data not frozen yet, or only --month.
    /// Frozen months are kept as they are.
    Snapshot {
        /// A JST month, YYYY-MM.
        #[arg(long)]
        month: Option<String>,
    },
}

#[derive(clap::Args)]
struct DemoArgs {
    /// small: a few associations of one district; kanazawa: the whole city (minutes).
    #[arg(long, value_enum, default_value_t = DemoScale::Small)]
    scale: DemoScale,
    /// The same seed makes the same city (on the same day: dates count back from today).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The password of every demo login.
    #[arg(long, default_value = crate::demo::DEFAULT_PASSWORD)]
    password: String,
    /// Base URL of the loopback push service the push subscriptions point at.
    #[arg(long, default_value = crate::demo::DEFAULT_PUSH_ENDPOINT)]
    push_endpoint: String,
    /// Add the demo city even though the database already holds associations.
    #[arg(long)]
    add_to_existing: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum DemoScale {
    Small,
    Kanazawa,
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Add or update districts from a CSV with columns code,name[,name_kana,kominkan,chokai_count,households,checked].
    Districts { file: PathBuf },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a city admin. The password comes from KAIRAN_ADMIN_PASSWORD or is asked for.
    Create {
        /// Email address or phone number to sign in with.
        #[arg(long)]
        login: String,
        /// Name shown to others.
        #[arg(long, default_value = "管理者")]
        display_name: String,
    },
}

/// Exit codes: 0 done, 1 failed while running, 2 bad configuration or arguments, or a
/// database the demo must not fill.
pub fn main() -> ExitCode {
    // Before libpq touches OpenSSL: initialise it without its exit handler, which would
    // otherwise run while pool threads still hold connections and crash the process on exit.
    openssl_sys::init();
    let cli = Cli::parse();
    let settings = match get_configuration() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("kairan: {e}");
            return ExitCode::from(2);
        }
    };
    init_subscriber(&settings.log, std::io::stderr);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kairan: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Backup { .. }) = cli.command.as_ref()
        && let Ok(DatabaseUrl::Postgres(_)) = settings.database_url()
    {
        eprintln!(
            "kairan: `kairan backup` copies SQLite databases only. This server uses PostgreSQL: \
             back it up with pg_dump (or pg_basebackup with WAL archiving); see docs/deploy.md."
        );
        return ExitCode::from(2);
    }
    let command = cli.command.unwrap_or(Command::Serve);
    if !matches!(command, Command::Serve)
        && let Ok(url) = settings.database_url()
    {
        announce_database(&url);
    }
    let result = runtime.block_on(async move {
        match command {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::Backup { file } => backup_database(settings, file).await,
            Command::Import {
                what: ImportCommand::Districts { file },
            } => import_district_file(settings, file).await,
            Command::Admin {
                action:
                    AdminCommand::Create {
                        login,
                        display_name,
                    },
            } => create_admin(settings, login, display_name).await,
            Command::Stats {
                action: StatsCommand::Snapshot { month },
            } => snapshot_stats(settings, month).await,
            Command::Demo(args) => demo(settings, args).await,
            Command::Keys {
                action: KeysCommand::Rotate,
            } => rotate_keys(settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Refusal>().is_some() => {
            eprintln!("kairan: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("kairan: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let url = settings.database_url()?;
    let _lock = match &url {
        DatabaseUrl::Sqlite(path) => Some(crate::files::lock_database(path)?),
        DatabaseUrl::Postgres(_) => None,
    };
    let app = Application::build(settings.clone()).await?;
    let host = settings.socket_addr()?.ip();
    let base = match settings.web.public_url.trim_end_matches('/') {
        "" => format!("http://{host}:{}", app.port()),
        configured => configured.to_string(),
    };
    println!(
        "kairan is listening on {base} (database: {})",
        url.redacted()
    );
    println!("  Pages: {base}/");
    println!("  API documentation: {base}/api/v1/docs/");
    if let Some(setup) = app.setup_path() {
        println!("  No city admin yet. Open this one-time link to create one:");
        println!("    {base}{setup}");
        println!("  or use the command line:");
        println!(
            "    {} admin create --login you@example.jp",
            crate::hints::command()
        );
    }
    app.run_until_signalled().await?;
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    prepare_database(settings, true).await?;
    println!("the database schema is up to date");
    Ok(())
}

async fn rotate_keys(settings: Settings) -> anyhow::Result<()> {
    if !matches!(settings.database_url()?, DatabaseUrl::Postgres(_)) {
        return Err(Refusal(
            "`kairan keys rotate` turns the key ring PostgreSQL deployments keep in the database; \
             with SQLite, add a key to auth.keys and make it auth.active_kid (docs/configuration.md)"
                .into(),
        )
        .into());
    }
    if crate::auth::jwt::configured_keys(&settings.auth).is_some() {
        return Err(Refusal(
            "auth.keys is configured, so the servers sign with those keys: rotate them there"
                .into(),
        )
        .into());
    }
    let ttl = settings.auth.access_ttl_secs;
    let db = prepare_database(settings, false).await?;
    let kid = crate::telemetry::spawn_blocking_with_tracing(move || {
        under_startup_lock(&mut *db.get()?, |conn| {
            crate::shared_secrets::rotate_jwt_key(conn, ttl)
        })
    })
    .await??;
    println!(
        "added JWT key {kid}; it signs from two ring reloads from now, and the older keys verify until their tokens expire"
    );
    Ok(())
}

async fn backup_database(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    let url = settings.database_url()?;
    if let DatabaseUrl::Sqlite(path) = &url
        && !path.exists()
    {
        anyhow::bail!(
            "there is no database at {}; nothing was backed up",
            path.display()
        );
    }
    let expected = match &url {
        DatabaseUrl::Sqlite(path) => progress::file_size(path),
        DatabaseUrl::Postgres(_) => 0,
    };
    let manager = AnyConnectionManager::new(url, &settings.database);
    let activity = Activity::start("backing up", std::io::stderr().is_terminal());
    activity.watch_file(partial_backup_path(&file), expected, "backing up");
    let target = file.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut conn = manager.establish()?;
        backup_to(&mut conn, &target)
    })
    .await??;
    let took = activity.finish();
    println!(
        "backed up the database to {} ({} in {})",
        file.display(),
        progress::bytes(progress::file_size(&file)),
        progress::duration(took)
    );
    Ok(())
}

async fn import_district_file(settings: Settings, file: PathBuf) -> anyhow::Result<()> {
    let bytes = std::fs::read(&file)
        .map_err(|e| anyhow::anyhow!(crate::files::explain(&file, "read", &e)))?;
    let records = parse_districts(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}; nothing was imported", file.display()))?;
    let db = prepare_database(settings, false).await?;
    let activity = Activity::start(
        &format!("importing {} districts", records.len()),
        std::io::stderr().is_terminal(),
    );
    let report = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        Ok(districts::import_districts(&mut *db.get()?, &records)?)
    })
    .await??;
    let took = activity.finish();
    println!(
        "districts: {} added, {} updated, {} unchanged (in {})",
        report.inserted,
        report.updated,
        report.unchanged,
        progress::duration(took)
    );
    Ok(())
}

async fn create_admin(
    settings: Settings,
    login: String,
    display_name: String,
) -> anyhow::Result<()> {
    let login = Login::parse(&login).map_err(anyhow::Error::msg)?;
    let display_name = OneLine::<100>::parse("display name", &display_name)
        .map_err(anyhow::Error::msg)?
        .into_inner();
    let password = read_admin_password()?;
    check_new_password(&password, Some(login.as_str())).map_err(anyhow::Error::msg)?;
    let db = prepare_database(settings.clone(), true).await?;
    let member = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let hash = hash_password(&settings.password, &password)?;
        let conn = &mut *db.get()?;
        sessions::create_admin(conn, &login, &display_name, &hash, AdminOrigin::CommandLine)
            .map_err(|e| anyhow::anyhow!("{e}"))
    })
    .await??;
    println!("created city admin {} (id {})", member.login, member.id);
    Ok(())
}

async fn snapshot_stats(settings: Settings, month: Option<String>) -> anyhow::Result<()> {
    let at = crate::db::now();
    let month = month
        .map(|m| {
            let month = Month::parse(&m).map_err(anyhow::Error::msg)?;
            if month > Month::containing(at) {
                anyhow::bail!("{month} has not begun");
            }
            Ok(month)
        })
        .transpose()?;
    let rule = crate::domain::Rule::from(&settings.stats);
    let db = prepare_database(settings, true).await?;
    let activity = Activity::start(
        "computing the monthly figures",
        std::io::stderr().is_terminal(),
    );
    let taken = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let conn = &mut *db.get()?;
        Ok(match month {
            Some(month) => vec![(month, stats::snapshot_month(conn, month, rule, at)?)],
            None => stats::take_snapshots(conn, rule, at)?,
        })
    })
    .await??;
    let took = activity.finish();
    if taken.is_empty() {
        println!("every month with data is already frozen");
    }
    let count = taken.len();
    for (month, outcome) in taken {
        let what = match outcome {
            stats::SnapshotOutcome::Frozen => "frozen",
            stats::SnapshotOutcome::Provisional => {
                "stored (provisional until its circulars' 72 hours have passed)"
            }
            stats::SnapshotOutcome::Kept => "already frozen; kept",
        };
        println!("{month}: {what}");
    }
    println!(
        "stats: {count} month(s) computed in {}",
        progress::duration(took)
    );
    Ok(())
}

async fn demo(settings: Settings, args: DemoArgs) -> anyhow::Result<()> {
    let password = SecretString::from(args.password);
    check_new_password(&password, None).map_err(|e| Refusal(format!("--password: {e}")))?;
    let options = DemoOptions {
        scale: match args.scale {
            DemoScale::Small => Scale::SMALL,
            DemoScale::Kanazawa => Scale::KANAZAWA,
        },
        seed: args.seed,
        password,
        push_endpoint: check_push_endpoint(&args.push_endpoint)?,
        add_to_existing: args.add_to_existing,
        production: std::env::var("KAIRAN_ENVIRONMENT")
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("production")),
        progress: std::io::stderr().is_terminal(),
    };
    crate::demo::run(settings, options).await
}

/// Commands say which database they work on, so one run with the wrong data folder shows
/// at once instead of quietly making a second, empty city.
fn announce_database(url: &DatabaseUrl) {
    match url {
        DatabaseUrl::Sqlite(path) if !path.exists() => println!(
            "database: {} (new: it did not exist; set KAIRAN_SERVER__DATA_DIR or \
             KAIRAN_DATABASE__URL as for the server to use its database)",
            url.redacted()
        ),
        _ => println!("database: {}", url.redacted()),
    }
}

fn read_admin_password() -> anyhow::Result<SecretString> {
    if let Ok(password) = std::env::var("KAIRAN_ADMIN_PASSWORD") {
        return Ok(SecretString::from(password));
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "set KAIRAN_ADMIN_PASSWORD, or run this in a terminal to be asked for the password"
        );
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password again: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(SecretString::from(first))
}
