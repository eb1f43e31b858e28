//! A loopback LINE Messaging API for the LINE tests: it checks the bearer token and the
//! request bodies (multicast: 1–500 user ids and 1–5 messages; reply: a reply token), records
//! every request, and answers each with the next scripted status (200 when none is left).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use crate::push_service::serve_loopback;

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct LineRequest {
    pub path: String,
    pub authorization: String,
    pub retry_key: Option<String>,
    pub body: Value,
    /// What the stand-in answered.
    pub status: u16,
}

impl LineRequest {
    /// The user ids of a multicast.
    pub fn to(&self) -> Vec<String> {
        self.body["to"]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    }

    /// The first message's text.
    pub fn text(&self) -> String {
        self.body["messages"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Default)]
struct State {
    token: String,
    script: VecDeque<u16>,
    delay: Duration,
    log: Vec<LineRequest>,
}

type Shared = Arc<Mutex<State>>;

fn valid(path: &str, body: &Value) -> bool {
    let messages = body["messages"].as_array().map_or(0, Vec::len);
    let texts_ok = body["messages"].as_array().is_some_and(|m| {
        m.iter()
            .all(|m| m["type"] == "text" && m["text"].as_str().is_some_and(|t| !t.is_empty()))
    });
    match path {
        "/v2/bot/message/multicast" => {
            let to = body["to"].as_array();
            to.is_some_and(|to| {
                (1..=500).contains(&to.len()) && to.iter().all(|u| u.as_str().is_some())
            }) && (1..=5).contains(&messages)
                && texts_ok
        }
        "/v2/bot/message/reply" => {
            body["replyToken"].as_str().is_some() && (1..=5).contains(&messages) && texts_ok
        }
        _ => false,
    }
}

async fn answer(request: HttpRequest, body: web::Bytes, state: web::Data<Shared>) -> HttpResponse {
    let delay = state.lock().unwrap().delay;
    if !delay.is_zero() {
        actix_web::rt::time::sleep(delay).await;
    }
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let authorization = header("authorization").unwrap_or_default();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = request.path().to_string();
    let mut state = state.lock().unwrap();
    let status = if authorization != format!("Bearer {}", state.token) {
        401
    } else if !valid(&path, &parsed) {
        400
    } else {
        state.script.pop_front().unwrap_or(200)
    };
    state.log.push(LineRequest {
        path,
        authorization,
        retry_key: header("x-line-retry-key"),
        body: parsed,
        status,
    });
    let mut response = HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap());
    if status == 429 {
        response.insert_header(("Retry-After", "7"));
    }
    response.json(json!({"message": format!("stand-in answered {status}")}))
}

/// The stand-in, on 127.0.0.1 and a port of its own; stopped when dropped.
pub struct LineService {
    /// `http://127.0.0.1:PORT`, for `line.api_base_url`.
    pub address: String,
    state: Shared,
    handle: ServerHandle,
}

impl LineService {
    /// Accepts `Bearer <token>` only.
    pub async fn start(token: &str) -> Self {
        let state: Shared = Arc::new(Mutex::new(State {
            token: token.to_string(),
            ..State::default()
        }));
        let (address, handle) = serve_loopback(state.clone(), answer);
        Self {
            address,
            state,
            handle,
        }
    }

    /// The next requests' statuses, in order (then 200 again).
    pub fn script(&self, statuses: &[u16]) {
        self.state.lock().unwrap().script.extend(statuses);
    }

    /// The token LINE now accepts (another one is revoked: 401).
    pub fn accept_token(&self, token: &str) {
        self.state.lock().unwrap().token = token.to_string();
    }

    /// Each request waits this long before its answer.
    pub fn delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn requests(&self) -> Vec<LineRequest> {
        self.state.lock().unwrap().log.clone()
    }

    pub fn multicasts(&self) -> Vec<LineRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/v2/bot/message/multicast")
            .collect()
    }

    pub fn replies(&self) -> Vec<LineRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/v2/bot/message/reply")
            .collect()
    }
}

impl Drop for LineService {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
