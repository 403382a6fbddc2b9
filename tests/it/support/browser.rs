//! Headless Chromium driven over W3C WebDriver (chromedriver, `.ci/run` installs both), for
//! what only a browser tells: widths, what it made of the markup, what a reader's clicks and
//! keys lead to, what it logged, what the page looks like.
//!
//! A hand-written client over a plain socket: the few endpoints the tests use, each a
//! blocking call (run it inside `spawn_blocking`). Every call that fails panics with
//! chromedriver's answer.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::plain_http::request_blocking;

/// The key under which WebDriver hands out an element's reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The WebDriver key code of Enter (for `send_keys`).
pub const ENTER: &str = "\u{E007}";

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

/// An element of the current page (its WebDriver reference).
#[derive(Debug, Clone)]
pub struct Element(String);

impl Browser {
    /// A phone's screen `width` CSS px wide (800 high, two device pixels to one): Chromium's
    /// windows are at least 500 px wide, its mobile emulation any width (and it honours the
    /// page's viewport tag as a phone does).
    /// Chromium's own language, English.
    pub fn start(width: u32) -> Browser {
        Browser::phone_in(width, "en-US,en")
    }

    /// A phone as [`Browser::start`]'s whose reader asks for pages in `accept_language`
    /// (`ru,en`: the `Accept-Language` header).
    pub fn phone_in(width: u32, accept_language: &str) -> Browser {
        let emulation = json!({"deviceMetrics": {"width": width, "height": 800, "pixelRatio": 2.0, "touch": true}});
        Browser::launch(emulation, accept_language)
    }

    /// A desktop's window: `width` × `height`, one device pixel to a CSS pixel, a mouse.
    pub fn desktop_in(width: u32, height: u32, accept_language: &str) -> Browser {
        let emulation = json!({"deviceMetrics": {
            "width": width, "height": height, "pixelRatio": 1.0, "touch": false, "mobile": false
        }});
        Browser::launch(emulation, accept_language)
    }

    fn launch(emulation: Value, accept_language: &str) -> Browser {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={}", addr.port()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver; .ci/run installs it)");
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // The browser's console is kept (read with `console_errors`).
        let caps = json!({"capabilities": {"alwaysMatch": {
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"],
                "mobileEmulation": emulation,
                "prefs": {"intl.accept_languages": accept_language}
            }
        }}});
        let r = request_blocking(addr, "POST", "/session", &[], Some(&caps));
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("a session: {v}")).to_string();
        Browser { driver, addr, session }
    }

    /// A command of this session (`path` after `/session/{id}`): its value, or what
    /// chromedriver said went wrong.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let full = format!("/session/{}{path}", self.session);
        // WebDriver wants a body (`{}`) on every POST.
        let body = body.or_else(|| (method == "POST").then(|| json!({})));
        let r = request_blocking(self.addr, method, &full, &[], body.as_ref());
        let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("{method} {path}: {e}: {}", r.text()))?;
        if r.status == 200 {
            Ok(v["value"].clone())
        } else {
            Err(format!("{method} {path}: {} {}: {}", r.status, v["value"]["error"], v["value"]["message"]))
        }
    }

    fn must(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.must("POST", "/url", Some(json!({ "url": url })));
    }

    /// The address of the current page.
    pub fn url(&self) -> String {
        self.must("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    /// The path and query of the current page (`/search?q=…`), as the site links them.
    pub fn path(&self) -> String {
        let url = self.url();
        let after_scheme = url.split_once("://").map_or(url.as_str(), |(_, rest)| rest);
        after_scheme.find('/').map_or("/".to_string(), |at| after_scheme[at..].to_string())
    }

    /// The browser's Back button.
    pub fn back(&self) {
        self.must("POST", "/back", None);
    }

    /// The first element matching a CSS selector, if any.
    pub fn try_find(&self, css: &str) -> Option<Element> {
        let v = self.command("POST", "/element", Some(json!({"using": "css selector", "value": css}))).ok()?;
        v[ELEMENT].as_str().map(|id| Element(id.to_string()))
    }

    /// The first element matching a CSS selector (there must be one).
    pub fn find(&self, css: &str) -> Element {
        self.try_find(css).unwrap_or_else(|| panic!("no {css} on {}", self.url()))
    }

    /// Every element matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.must("POST", "/elements", Some(json!({"using": "css selector", "value": css})));
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str())
            .map(|id| Element(id.to_string()))
            .collect()
    }

    /// Clicks an element as a reader would (scrolled into view, the topmost at its centre).
    pub fn click(&self, element: &Element) {
        self.must("POST", &format!("/element/{}/click", element.0), None);
    }

    /// Clicks a link or a button that opens another page, and waits for that page to load.
    pub fn click_to_navigate(&self, element: &Element) {
        let before = self.url();
        self.click(element);
        self.wait_for_page_after(&before);
    }

    /// Types into an element (a key such as [`ENTER`] included).
    pub fn send_keys(&self, element: &Element, text: &str) {
        self.must("POST", &format!("/element/{}/value", element.0), Some(json!({ "text": text })));
    }

    /// Empties a text field.
    pub fn clear(&self, element: &Element) {
        self.must("POST", &format!("/element/{}/clear", element.0), None);
    }

    /// An element's attribute as written in the markup (`href="/c/…"` is `/c/…`).
    pub fn attribute(&self, element: &Element, name: &str) -> Option<String> {
        self.must("GET", &format!("/element/{}/attribute/{name}", element.0), None).as_str().map(str::to_string)
    }

    /// An element's rendered text.
    pub fn text(&self, element: &Element) -> String {
        self.must("GET", &format!("/element/{}/text", element.0), None).as_str().unwrap_or_default().to_string()
    }

    /// Waits until the address is no longer `before` and the new page has loaded.
    pub fn wait_for_page_after(&self, before: &str) {
        self.wait_until(&format!("a page after {before}"), |b| {
            b.url() != before && b.eval("return document.readyState;") == "complete"
        });
    }

    /// Polls `check` for up to 20 s.
    pub fn wait_until(&self, what: &str, mut check: impl FnMut(&Browser) -> bool) {
        let started = Instant::now();
        while !check(self) {
            assert!(started.elapsed() < Duration::from_secs(20), "waited 20 s for {what}; at {}", self.url());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The value of a script run in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.must("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// The value an asynchronous script hands to its callback (the last argument).
    pub fn eval_async(&self, script: &str) -> Value {
        self.must("POST", "/execute/async", Some(json!({"script": script, "args": []})))
    }

    /// A DevTools command through chromedriver (e.g. emulating a dark colour scheme): its
    /// result.
    pub fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.must("POST", "/goog/cdp/execute", Some(json!({"cmd": cmd, "params": params})))
    }

    /// `prefers-color-scheme` as the reader's system would set it: "light" or "dark".
    pub fn color_scheme(&self, scheme: &str) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        );
    }

    /// What the window shows, as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        let v = self.must("GET", "/screenshot", None);
        let png = base64_decode(v.as_str().unwrap_or_default()).expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the screenshot is a PNG");
        png
    }

    /// The console's errors since the last call: uncaught exceptions, `console.error`,
    /// what the Content-Security-Policy refused, resources that failed to load.
    /// (chromedriver keeps the log, `goog:loggingPrefs`; reading it empties it.)
    pub fn console_errors(&self) -> Vec<String> {
        let v = self.must("POST", "/se/log", Some(json!({"type": "browser"})));
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| e["message"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = TcpStream::connect(self.addr)
            .map(|_| request_blocking(self.addr, "DELETE", &format!("/session/{}", self.session), &[], None));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The width and height of a PNG (its IHDR chunk).
pub fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let ihdr = png.get(12..24).filter(|h| &h[..4] == b"IHDR")?;
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((be(&ihdr[4..8]), be(&ihdr[8..12])))
}

/// Where screenshots are kept for CI to pick up: `target/screenshots` (`$CARGO_TARGET_DIR`'s
/// when set).
pub fn screenshot_dir() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| manifest.join("target"), |t| manifest.join(t));
    target.join("screenshots")
}

/// Standard base64 (with or without padding); `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut bits, mut count) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

#[test]
fn base64_decodes_what_it_should() {
    assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
    assert_eq!(base64_decode("Zg==").as_deref(), Some(&b"f"[..]));
    assert_eq!(base64_decode("Zm8=").as_deref(), Some(&b"fo"[..]));
    assert_eq!(base64_decode("Zm9vYmFy").as_deref(), Some(&b"foobar"[..]));
    assert_eq!(base64_decode("/+8=").as_deref(), Some(&[0xff, 0xef][..]));
    assert_eq!(base64_decode("Zm9v!"), None);
}
