//! A real browser for the console tests: Debian's `chromium`, headless, driven over the W3C `WebDriver` protocol by
//! Debian's `chromedriver` (`CHROMEDRIVER` and `CHROMIUM` override the paths). Nothing is downloaded. Elements are
//! found by CSS selector and waited for with a deadline; screenshots go to `UI_SCREENSHOTS` (default
//! `target/ui-screenshots` in the workspace), where CI keeps them.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::wait;

/// How long an element or a text may take to appear.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The key `WebDriver` names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session; the browser and its driver stop when dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("session", &self.session).finish_non_exhaustive()
    }
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    pub async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{driver_path}: {e} (apt-get install chromium chromium-driver)"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        wait::until(PATIENCE, "chromedriver to listen", || {
            let http = http.clone();
            let status = format!("{base}/status");
            async move { http.get(status).send().await.ok().filter(|r| r.status().is_success()).map(drop) }
        })
        .await;
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--no-first-run", "--disable-extensions"]
            }
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .unwrap();
        let session =
            answer["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {answer}")).to_owned();
        Browser { http, session: format!("{base}/session/{session}"), driver }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer: Value = request.send().await.expect("webdriver").json().await.expect("webdriver JSON");
        answer["value"].clone()
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    /// Runs `script` in the page (its `return` value comes back).
    pub async fn execute(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    /// The first element matching `css`, waited for.
    pub async fn find(&self, css: &str) -> String {
        match wait::within(PATIENCE, || async move { self.try_find(css).await }).await {
            Some(element) => element,
            None => self.fail(&format!("an element {css}")).await,
        }
    }

    /// Fails the test, saving a screenshot and quoting the page's text so the failure can be read.
    async fn fail(&self, what: &str) -> ! {
        let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let shot = self.screenshot(&format!("failed-{name}")).await;
        let text = self.execute("return document.body.innerText;").await;
        panic!(
            "timed out after {PATIENCE:?} waiting for {what}; the page ({}) read:\n{}",
            shot.display(),
            text.as_str().unwrap_or_default()
        );
    }

    /// The first element matching `css` now, if any.
    pub async fn try_find(&self, css: &str) -> Option<String> {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found[ELEMENT].as_str().map(str::to_owned)
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        self.try_find(css).await.is_some()
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// Replaces the text of an input.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/clear"), Some(json!({}))).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    /// Chooses `file` in a file input.
    pub async fn choose_file(&self, css: &str, file: &std::path::Path) {
        let element = self.find(css).await;
        let path = file.canonicalize().expect("file to upload");
        let text = json!({"text": path.to_str().expect("UTF-8 path")});
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(text)).await;
    }

    /// The visible text of the first element matching `css`, once there is one.
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        let text = self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None).await;
        text.as_str().unwrap_or_default().to_owned()
    }

    /// Waits until the text of an element matching `css` satisfies `want`; returns it.
    pub async fn wait_text(&self, css: &str, what: &str, want: impl Fn(&str) -> bool) -> String {
        let found = wait::within(PATIENCE, || async {
            let element = self.try_find(css).await?;
            let text = self.call(reqwest::Method::GET, &format!("/element/{element}/text"), None).await;
            text.as_str().filter(|t| want(t)).map(str::to_owned)
        })
        .await;
        match found {
            Some(text) => text,
            None => self.fail(what).await,
        }
    }

    /// Saves a PNG of the window as `<UI_SCREENSHOTS>/<name>.png`; returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = std::env::var_os("UI_SCREENSHOTS")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/ui-screenshots"), PathBuf::from);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(data.as_str().expect("base64 PNG")).expect("PNG");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("writing screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session ends Chromium; the driver goes with the test.
        let (http, session) = (self.http.clone(), self.session.clone());
        let closed = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?
                .block_on(async move { http.delete(session).timeout(Duration::from_secs(10)).send().await.ok() })
        });
        let _ = closed.join();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
