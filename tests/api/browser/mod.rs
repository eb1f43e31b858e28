//! Browser tests: Debian's headless Chromium driven through chromedriver with fantoccini.
//! One chromedriver per test run (on a free port, shared); each test its own browser
//! session with a fresh profile. Elements are found by role and accessible name, as a
//! screen reader finds them. Without chromium or chromedriver the tests pass and say they
//! were skipped (CI=true makes that a failure). docs/web.md explains how to add one.

mod accessibility;
mod account;
mod calendar;
mod circulars;
mod city_districts;
mod compose;
mod forms;
mod line_account;
mod officer;
mod officer_tools;
mod offline;
pub mod sign_in;
mod walk;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::helpers::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long finders wait for an element to appear.
const WAIT: Duration = Duration::from_secs(10);

/// One browser at a time: Chromium is heavy, and the suite's timing tests share 2 cores.
static ONE_BROWSER: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The shared chromedriver: its port, or why the browser tests are skipped.
static DRIVER: OnceLock<Result<Driver, String>> = OnceLock::new();

struct Driver {
    port: u16,
    /// A shell that kills chromedriver when this process ends (its stdin closes).
    _watchdog: Child,
}

fn driver() -> Result<u16, String> {
    DRIVER
        .get_or_init(start_driver)
        .as_ref()
        .map(|d| d.port)
        .map_err(Clone::clone)
}

fn start_driver() -> Result<Driver, String> {
    for program in [CHROMIUM, CHROMEDRIVER] {
        if !std::path::Path::new(program).exists() {
            return Err(format!("{program} is not installed"));
        }
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let watchdog = Command::new("sh")
        .args([
            "-c",
            "\"$0\" --port=\"$1\" >/dev/null 2>&1 & d=$!; read -r _; kill $d",
            CHROMEDRIVER,
            &port.to_string(),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start chromedriver: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("chromedriver did not start within 15 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Driver {
        port,
        _watchdog: watchdog,
    })
}

/// Says once, past cargo's output capture, that browser tests were skipped and how to run
/// them; under CI=true a skip is a failure.
fn skip(reason: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("browser tests cannot run in CI: {reason}");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** browser tests SKIPPED: {reason}. To run them: \
             apt-get install chromium chromium-driver (or bash .ci/run) ***\n"
        );
    });
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewport {
    /// 1280 × 900.
    Desktop,
    /// A phone: 390 × 844 CSS pixels, 3 device pixels each, touch.
    Phone,
    /// The narrowest phone in common use (iPhone SE): 375 × 667, 2 device pixels each.
    SmallPhone,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub javascript: bool,
    pub viewport: Viewport,
    /// The browser's Accept-Language.
    pub language: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            javascript: true,
            viewport: Viewport::Desktop,
            language: "ja",
        }
    }
}

impl Options {
    pub fn without_javascript() -> Self {
        Self {
            javascript: false,
            ..Self::default()
        }
    }

    pub fn phone() -> Self {
        Self {
            viewport: Viewport::Phone,
            ..Self::default()
        }
    }

    pub fn small_phone() -> Self {
        Self {
            viewport: Viewport::SmallPhone,
            ..Self::default()
        }
    }
}

/// One browser session on a fresh profile, pointed at one test server.
pub struct Browser {
    pub client: Client,
    base: String,
    port: u16,
    session_id: String,
    options: Options,
    _profile: TempDir,
    _turn: tokio::sync::SemaphorePermit<'static>,
}

impl Browser {
    /// A new browser for `app`, or None (after saying why) when none can run here.
    pub async fn open(app: &TestApp, options: Options) -> Option<Browser> {
        let port = match driver() {
            Ok(port) => port,
            Err(reason) => {
                skip(&reason);
                return None;
            }
        };
        let turn = ONE_BROWSER
            .acquire()
            .await
            .expect("the semaphore stays open");
        let profile = tempfile::tempdir().expect("profile dir");
        let mut chrome = json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1280,900",
                format!("--lang={}", options.language),
                format!("--user-data-dir={}", profile.path().display()),
            ],
            "prefs": {
                "intl.accept_languages": options.language,
                "profile.managed_default_content_settings.javascript":
                    if options.javascript { 1 } else { 2 },
            },
        });
        let phone = match options.viewport {
            Viewport::Desktop => None,
            Viewport::Phone => Some((390, 844, 3.0)),
            Viewport::SmallPhone => Some((375, 667, 2.0)),
        };
        if let Some((width, height, pixel_ratio)) = phone {
            chrome["mobileEmulation"] = json!({
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": pixel_ratio, "touch": true},
                "userAgent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Mobile Safari/537.36",
            });
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert("goog:chromeOptions".into(), chrome);
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a chromium session starts");
        let session_id = client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        Some(Browser {
            client,
            base: app.address.clone(),
            port,
            session_id,
            options,
            _profile: profile,
            _turn: turn,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn goto(&self, path: &str) {
        self.client.goto(&self.url(path)).await.expect("page opens");
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current url");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// The visible text of `<main>`.
    pub async fn main_text(&self) -> String {
        self.client
            .find(Locator::Css("main"))
            .await
            .expect("a main element")
            .text()
            .await
            .expect("text")
    }

    /// Waits until `<main>` shows `text`.
    pub async fn expect_text(&self, text: &str) {
        self.expect_one_of(&[text]).await;
    }

    /// Waits until `<main>` shows one of `texts`.
    pub async fn expect_one_of(&self, texts: &[&str]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let shown = self.main_text().await;
            if texts.iter().any(|text| shown.contains(text)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "expected one of {texts:?} on {}, saw:\n{shown}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A control with this role whose accessible name is `name`, waiting for it to appear.
    pub async fn by_role(&self, role: &str, name: &str) -> Element {
        let candidates = match role {
            "button" => "button, input[type=submit], input[type=button], [role=button]",
            "link" => "a[href], [role=link]",
            "heading" => "h1, h2, h3, h4, h5, h6, [role=heading]",
            "textbox" => {
                "input:not([type]), input[type=text], input[type=email], input[type=tel], textarea, [role=textbox]"
            }
            "combobox" => "select, [role=combobox]",
            "radio" => "input[type=radio], [role=radio]",
            "checkbox" => "input[type=checkbox], [role=checkbox]",
            "image" => "img, svg[role=img], [role=img]",
            other => panic!("no candidates known for role {other}"),
        };
        self.find_named(candidates, Some(role), name).await
    }

    pub async fn button(&self, name: &str) -> Element {
        self.by_role("button", name).await
    }

    pub async fn link(&self, name: &str) -> Element {
        self.by_role("link", name).await
    }

    pub async fn heading(&self, name: &str) -> Element {
        self.by_role("heading", name).await
    }

    /// A form field by its label (any input, select or textarea; passwords have no role).
    pub async fn field(&self, label: &str) -> Element {
        self.find_named("input:not([type=hidden]), select, textarea", None, label)
            .await
    }

    async fn find_named(&self, css: &str, role: Option<&str>, name: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            let mut seen = Vec::new();
            for element in self
                .client
                .find_all(Locator::Css(css))
                .await
                .unwrap_or_default()
            {
                let label = self.computed(&element, "computedlabel").await;
                if label.trim() == name {
                    let actual = self.computed(&element, "computedrole").await;
                    if role.is_none_or(|r| r == actual) {
                        return element;
                    }
                    seen.push(format!("{label:?} (role {actual})"));
                } else {
                    seen.push(format!("{label:?}"));
                }
            }
            assert!(
                Instant::now() < deadline,
                "no {} named {name:?} on {}; found {seen:?}",
                role.unwrap_or("field"),
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// WebDriver's computed accessible name or role of an element.
    async fn computed(&self, element: &Element, what: &'static str) -> String {
        let command = ElementQuery {
            element: element.element_id().to_string(),
            what,
        };
        match self.client.issue_cmd(command).await {
            Ok(Value::String(value)) => value,
            _ => String::new(),
        }
    }

    /// Clears a field and types into it.
    pub async fn fill(&self, label: &str, text: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("field clears");
        field.send_keys(text).await.expect("typing");
    }

    /// Presses a button that submits a form and waits for the next page to load.
    pub async fn click_button(&self, name: &str) {
        let button = self.button(name).await;
        button.click().await.expect("click");
        self.wait_until_replaced(&button).await;
    }

    /// Waits until `element`'s page is gone (a navigation replaced the document).
    pub async fn wait_until_replaced(&self, element: &Element) {
        let deadline = Instant::now() + WAIT;
        while element.is_displayed().await.is_ok() {
            assert!(
                Instant::now() < deadline,
                "no new page after the click on {}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Chooses an option of a `<select>` by its visible text.
    pub async fn select(&self, label: &str, option: &str) {
        let select = self.field(label).await;
        select
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("option {option:?} of {label:?}: {e}"));
    }

    /// The cookie's value in this browser, if set.
    pub async fn cookie(&self, name: &str) -> Option<String> {
        self.client
            .get_all_cookies()
            .await
            .expect("cookies")
            .into_iter()
            .find(|c| c.name() == name)
            .map(|c| c.value().to_string())
    }

    /// Runs a script in the page (needs JavaScript on).
    pub async fn execute(&self, script: &str) -> Value {
        assert!(self.options.javascript, "scripts need JavaScript on");
        self.client
            .execute(script, Vec::new())
            .await
            .expect("script runs")
    }

    /// A Chrome DevTools Protocol command.
    pub async fn cdp(&self, command: &'static str, params: Value) -> Value {
        self.client
            .issue_cmd(Cdp { command, params })
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    /// Emulates browser zoom (200 % = 2.0): the layout viewport shrinks and each CSS pixel
    /// takes that many device pixels, as in a zoomed browser.
    pub async fn zoom(&self, factor: f64) {
        let (width, height, scale, mobile) = match self.options.viewport {
            Viewport::Desktop => (1280.0, 900.0, 1.0, false),
            Viewport::Phone => (390.0, 844.0, 3.0, true),
            Viewport::SmallPhone => (375.0, 667.0, 2.0, true),
        };
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": (width / factor).round(), "height": (height / factor).round(),
                "deviceScaleFactor": scale * factor, "mobile": mobile,
            }),
        )
        .await;
    }

    /// Cuts the browser off the network (true) or lets it back (false).
    pub async fn offline(&self, offline: bool) {
        self.cdp("Network.enable", json!({})).await;
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": offline, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    /// Saves a screenshot: into docs/screenshots/ when KAIRAN_SCREENSHOTS=1 (for the
    /// README), else into target/screenshots/ to look at.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("screenshot");
        let folder = if std::env::var("KAIRAN_SCREENSHOTS").is_ok_and(|v| v == "1") {
            "docs/screenshots"
        } else {
            "target/screenshots"
        };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(folder);
        std::fs::create_dir_all(&dir).expect("screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }

    /// Runs axe-core on the page and fails on serious or critical violations. Without
    /// axe-core (fetched by .ci/run into .cache/axe-core) it says so and checks nothing.
    pub async fn assert_accessible(&self, what: &str) {
        let Some(axe) = axe_source() else {
            skip_axe();
            return;
        };
        let loaded = self
            .execute(&format!("{axe}\n;return typeof window.axe;"))
            .await;
        assert_eq!(loaded, json!("object"), "axe-core loads");
        let script = "const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then(r => done(JSON.stringify(r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' '))})))))
              .catch(e => done('axe failed: ' + e));";
        let result = self
            .client
            .execute_async(script, Vec::new())
            .await
            .expect("axe runs");
        let text = result.as_str().unwrap_or_default();
        assert_eq!(text, "[]", "axe-core on {what}: {text}");
    }

    /// Fails when the page is wider than the window (the reader would have to scroll
    /// sideways), naming the elements that stick out. A table that scrolls inside its own
    /// region does not count.
    pub async fn assert_fits_the_width(&self, what: &str) {
        let found = self
            .execute(
                "const width = document.documentElement.clientWidth;
                 const out = [];
                 for (const e of document.querySelectorAll('body *')) {
                   const r = e.getBoundingClientRect();
                   if (r.width > 0 && r.right > width + 1 && !e.closest('.table-scroll')) {
                     out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ends at ' + Math.round(r.right));
                   }
                 }
                 return {page: document.documentElement.scrollWidth, width, out: out.slice(0, 5)};",
            )
            .await;
        assert!(
            found["page"].as_i64() <= found["width"].as_i64() && found["out"] == json!([]),
            "{what} is wider than the phone: {found}"
        );
    }

    /// Ends the session (the browser closes).
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// A test that panicked still closes its browser: a plain DELETE to chromedriver.
    fn drop(&mut self) {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                self.session_id
            );
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read(&mut [0u8; 256]);
        }
    }
}

fn axe_source() -> Option<String> {
    let path = std::env::var("KAIRAN_AXE_JS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(".cache/axe-core/node_modules/axe-core/axe.min.js")
        });
    std::fs::read_to_string(path).ok()
}

fn skip_axe() {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("axe-core is missing in CI: .ci/run installs it into .cache/axe-core");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** axe-core checks SKIPPED: no .cache/axe-core/node_modules/axe-core/axe.min.js. \
             Fetch it with: npm install --prefix .cache/axe-core axe-core (bash .ci/run does) ***\n"
        );
    });
}

/// `session/{id}/<tail>` under chromedriver's address.
fn session_endpoint(
    base_url: &url::Url,
    session_id: Option<&str>,
    tail: &str,
) -> Result<url::Url, url::ParseError> {
    base_url.join(&format!(
        "session/{}/{tail}",
        session_id.unwrap_or_default()
    ))
}

/// GET …/element/{id}/computedlabel or computedrole.
#[derive(Debug)]
struct ElementQuery {
    element: String,
    what: &'static str,
}

impl WebDriverCompatibleCommand for ElementQuery {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        session_endpoint(
            base_url,
            session_id,
            &format!("element/{}/{}", self.element, self.what),
        )
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::GET, None)
    }
}

/// chromedriver's door to the DevTools protocol.
#[derive(Debug)]
struct Cdp {
    command: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        session_endpoint(base_url, session_id, "goog/cdp/execute")
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({"cmd": self.command, "params": self.params});
        (http::Method::POST, Some(body.to_string()))
    }
}
