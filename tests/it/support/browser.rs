//! Headless Chromium driven over WebDriver (chromedriver, `.ci/run` installs both), for
//! what only a laid-out page tells: widths, what the browser made of the markup. A
//! hand-written client over a plain socket; each call blocks (run it in `spawn_blocking`).

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use super::plain_http::request_blocking;

pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

impl Browser {
    pub fn start(width: u32) -> Browser {
        let addr = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a port");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={}", addr.port()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver; .ci/run installs it)");
        let started = std::time::Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        // A phone's screen: Chromium's windows are at least 500 px wide, its mobile
        // emulation any width (and it honours the page's viewport tag as a phone does).
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu"],
            "mobileEmulation": {"deviceMetrics": {"width": width, "height": 800, "pixelRatio": 2.0, "touch": true}}
        }}}});
        let r = request_blocking(addr, "POST", "/session", &[], Some(&caps));
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        let session = v["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("a session: {v}")).to_string();
        Browser { driver, addr, session }
    }

    pub fn goto(&self, url: &str) {
        let path = format!("/session/{}/url", self.session);
        let r = request_blocking(self.addr, "POST", &path, &[], Some(&json!({ "url": url })));
        assert_eq!(r.status, 200, "{}", r.text());
    }

    /// The value an asynchronous script hands to its callback (the last argument).
    pub fn eval_async(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/async", self.session);
        let r = request_blocking(self.addr, "POST", &path, &[], Some(&json!({"script": script, "args": []})));
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        v["value"].clone()
    }

    /// A DevTools command through chromedriver (e.g. emulating a dark colour scheme).
    pub fn cdp(&self, cmd: &str, params: Value) {
        let path = format!("/session/{}/goog/cdp/execute", self.session);
        let r = request_blocking(self.addr, "POST", &path, &[], Some(&json!({"cmd": cmd, "params": params})));
        assert_eq!(r.status, 200, "{cmd}: {}", r.text());
    }

    /// The value of a script run in the page.
    pub fn eval(&self, script: &str) -> Value {
        let path = format!("/session/{}/execute/sync", self.session);
        let r = request_blocking(self.addr, "POST", &path, &[], Some(&json!({"script": script, "args": []})));
        let v: Value = serde_json::from_slice(&r.body).expect("JSON");
        v["value"].clone()
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
