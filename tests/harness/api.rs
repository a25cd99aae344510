//! A small REST client for the API tests: raw bodies in, status and JSON out.

use std::time::Duration;

use serde_json::Value;

use crate::host::TestHost;
use crate::wait;

/// Talks to one host's REST API.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// A response: status and body (JSON when it parses, else the text as a JSON string).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub content_type: String,
    pub etag: Option<String>,
}

impl Answer {
    /// The `error` code of an error body.
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }

    pub fn message(&self) -> &str {
        self.body["message"].as_str().unwrap_or_default()
    }
}

impl Api {
    pub fn new(host: &TestHost) -> Api {
        // No connection reuse: every request stands alone, so one test's refused upload cannot leave a half-closed
        // connection for the next request to trip over.
        let http = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("http client");
        Api { base: host.url(""), http }
    }

    pub async fn send(&self, method: &str, path: &str, body: Option<Vec<u8>>, headers: &[(&str, &str)]) -> Answer {
        let label = format!("{method} {path}");
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.base)).timeout(Duration::from_secs(30));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("{label}: {e:?}"));
        let status = response.status().as_u16();
        let content_type =
            response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let etag = response.headers().get("etag").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = response.bytes().await.expect("body");
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer { status, body, content_type, etag }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None, &[]).await
    }

    /// POST with a JSON body and `Content-Type: application/json`.
    pub async fn post_json(&self, path: &str, json: &str) -> Answer {
        self.send("POST", path, Some(json.as_bytes().to_vec()), &[("content-type", "application/json")]).await
    }

    /// POST with no body and no Content-Type, as the seed's curls do for commands.
    pub async fn post_empty(&self, path: &str) -> Answer {
        self.send("POST", path, None, &[]).await
    }

    /// Polls `GET /orders/{id}/status` until the state is `state`.
    /// Waits until `component` is the active version of `slot` (polling `GET /plugins/{slot}`); fails at once if
    /// the host refused it.
    pub async fn wait_for_plugin(&self, slot: &str, component: &str, timeout: Duration) {
        let digest = crate::paths::digest_of(component);
        wait::until(timeout, &format!("{component} to become the {slot} plugin"), || async {
            let view = self.get(&format!("/plugins/{slot}")).await;
            if let Some(refusal) = view.body["last_refusal"].as_object() {
                assert_ne!(refusal["digest"].as_str(), Some(digest.as_str()), "{component} was refused: {refusal:?}");
            }
            (view.body["active"]["digest"].as_str() == Some(digest.as_str())).then_some(())
        })
        .await;
    }

    pub async fn wait_for_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        wait::until(timeout, &format!("{id} in state {state}"), || async {
            let answer = self.get(&format!("/orders/{id}/status")).await;
            (answer.status == 200 && answer.body["state"] == state).then_some(answer.body)
        })
        .await
    }
}
