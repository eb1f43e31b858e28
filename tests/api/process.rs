//! The real `kairan` binary in its own process, for tests that kill, stop and restart it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{ADMIN_PASSWORD, PASSWORD, str_field};

/// Environment for one server: test settings, a data folder, a database and a port.
#[derive(Clone)]
pub struct ServerEnv {
    pub vars: Vec<(String, String)>,
    pub port: u16,
    pub log: PathBuf,
}

impl ServerEnv {
    pub fn new(data_dir: &Path, database_url: &str) -> Self {
        let port = free_port();
        let vars = [
            ("KAIRAN_ENVIRONMENT", "test".to_string()),
            ("KAIRAN_SERVER__DATA_DIR", data_dir.display().to_string()),
            ("KAIRAN_DATABASE__URL", database_url.to_string()),
            ("KAIRAN_SERVER__BIND", format!("127.0.0.1:{port}")),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        Self {
            vars,
            port,
            log: data_dir.join("kairan.log"),
        }
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.to_string()));
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs a `kairan` subcommand to completion.
    pub fn command(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kairan"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .envs(extra.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("kairan runs")
    }

    pub fn create_admin(&self, login: &str) {
        let created = self.command(
            &["admin", "create", "--login", login],
            &[("KAIRAN_ADMIN_PASSWORD", ADMIN_PASSWORD)],
        );
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
}

pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `kairan serve` running; killed if the test ends while it still runs.
pub struct Served {
    child: Child,
    log: PathBuf,
}

impl Served {
    pub async fn start(env: &ServerEnv) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&env.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_kairan"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(env.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("kairan starts");
        let served = Self {
            child,
            log: env.log.clone(),
        };
        served.wait_until_ready(&env.address()).await;
        served
    }

    async fn wait_until_ready(&self, address: &str) {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client
                .get(format!("{address}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "kairan did not come up: {}",
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// kill -9: no chance to finish anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends SIGTERM and returns the exit status once it stopped (bounded wait).
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        signal(self.pid(), "TERM");
        self.wait_for_exit().await
    }

    pub fn try_exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().unwrap()
    }

    pub async fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "kairan did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A client of a server in another process.
#[derive(Clone)]
pub struct Remote {
    pub address: String,
    pub client: reqwest::Client,
}

impl Remote {
    pub fn new(address: String) -> Self {
        Self {
            address,
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
        }
    }

    /// A request that must answer `status`; returns the JSON body (Null when empty).
    pub async fn call(
        &self,
        method: Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
        status: u16,
    ) -> Value {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("request sent");
        let got = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        assert_eq!(got, status, "{path}: {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn sign_in(&self, login: &str, password: &str) -> String {
        let body = json!({"login": login, "password": password});
        let tokens = self
            .call(Method::POST, None, "/api/v1/auth/login", Some(&body), 200)
            .await;
        str_field(&tokens, "access_token")
    }

    pub async fn register(&self, code: &str, login: &str, name: &str) -> String {
        let body = json!({"invitation_code": code, "login": login, "password": PASSWORD,
                          "display_name": name});
        let tokens = self
            .call(
                Method::POST,
                None,
                "/api/v1/auth/register",
                Some(&body),
                201,
            )
            .await;
        str_field(&tokens, "access_token")
    }
}

/// A small town over HTTP: staff, one association, an officer and `residents` residents, each
/// in a household of their own.
pub struct Town {
    pub officer: String,
    pub association: String,
    /// (login, access token)
    pub residents: Vec<(String, String)>,
}

pub const ADMIN_LOGIN: &str = "admin@kairan.test";

impl Town {
    pub async fn build(remote: &Remote, residents: usize) -> Self {
        let admin = remote.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;
        let districts = remote
            .call(Method::GET, Some(&admin), "/api/v1/districts", None, 200)
            .await;
        let district = str_field(&districts["items"][0], "id");
        let body = json!({"district_id": district, "name": "試験町会", "member_households": 100});
        let association = remote
            .call(
                Method::POST,
                Some(&admin),
                "/api/v1/associations",
                Some(&body),
                201,
            )
            .await;
        let association = str_field(&association, "id");
        let invitations = format!("/api/v1/associations/{association}/invitations");
        let invitation = remote
            .call(
                Method::POST,
                Some(&admin),
                &invitations,
                Some(&json!({"role": "officer"})),
                201,
            )
            .await;
        let officer = remote
            .register(
                &str_field(&invitation, "code"),
                "officer@kairan.test",
                "役員",
            )
            .await;
        let invitation = remote
            .call(
                Method::POST,
                Some(&officer),
                &invitations,
                Some(&json!({"max_uses": residents})),
                201,
            )
            .await;
        let code = str_field(&invitation, "code");
        let mut people = Vec::new();
        for n in 0..residents {
            let login = format!("resident{n}@kairan.test");
            let token = remote.register(&code, &login, &format!("住民{n}")).await;
            people.push((login, token));
        }
        Self {
            officer,
            association,
            residents: people,
        }
    }

    /// A circular to the whole association that asks for confirmation; returns its id.
    pub async fn publish(&self, remote: &Remote, title: &str) -> String {
        let body = json!({"scope": {"kind": "association", "id": self.association},
                          "title": title, "body": "本文", "requires_confirmation": true});
        let post = remote
            .call(
                Method::POST,
                Some(&self.officer),
                "/api/v1/posts",
                Some(&body),
                201,
            )
            .await;
        str_field(&post, "id")
    }
}
