//! A loopback Web Push service for the push tests: it records every request and answers by
//! the endpoint's first path segment, plus a `Browser` that subscribes with real keys and
//! decrypts what it receives, and a check of the VAPID `Authorization` header.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

/// One request as the push service saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Log = Arc<Mutex<Vec<Received>>>;

/// `/ok/...` 201; `/gone404/...` 404; `/gone410/...` 410; `/busy/...` 429 with
/// `Retry-After: 120`; `/error/...` 500; `/slow/...` 201 after 200 ms; anything else 400.
async fn answer(request: HttpRequest, body: web::Bytes, log: web::Data<Log>) -> HttpResponse {
    let path = request.path().to_string();
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    log.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body: body.to_vec(),
    });
    let kind = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match kind {
        "ok" => HttpResponse::Created().finish(),
        "gone404" => HttpResponse::NotFound().finish(),
        "gone410" => HttpResponse::Gone().finish(),
        "busy" => HttpResponse::TooManyRequests()
            .insert_header(("Retry-After", "120"))
            .finish(),
        "error" => HttpResponse::InternalServerError().finish(),
        "slow" => {
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
            HttpResponse::Created().finish()
        }
        _ => HttpResponse::BadRequest().finish(),
    }
}

/// The push service, on 127.0.0.1 and a port of its own; stopped when dropped.
pub struct PushService {
    /// `http://127.0.0.1:PORT`: the origin, and so the VAPID audience, of every endpoint.
    pub address: String,
    received: Log,
    handle: ServerHandle,
}

impl PushService {
    pub async fn start() -> Self {
        let received: Log = Arc::new(Mutex::new(Vec::new()));
        let (address, handle) = serve_loopback(received.clone(), answer);
        Self {
            address,
            received,
            handle,
        }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    /// The requests sent to one browser's endpoint.
    pub fn received_by(&self, browser: &Browser) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| format!("{}{}", self.address, r.path) == browser.endpoint)
            .collect()
    }
}

impl Drop for PushService {
    fn drop(&mut self) {
        // The stop command is sent at once; nothing needs to wait for it.
        drop(self.handle.stop(false));
    }
}

/// A browser's push subscription: real P-256 keys and an auth secret, as PushManager makes.
pub struct Browser {
    pub endpoint: String,
    keypair: Box<dyn ece::LocalKeyPair>,
    auth: [u8; 16],
}

impl Browser {
    /// A browser whose endpoint is `<service>/<kind>/<name>` (kind: ok, gone404, slow, ...).
    pub fn new(service: &PushService, kind: &str, name: &str) -> Self {
        Self::with_endpoint(format!("{}/{kind}/{name}", service.address))
    }

    pub fn with_endpoint(endpoint: String) -> Self {
        let (keypair, auth) = ece::generate_keypair_and_auth_secret().unwrap();
        Self {
            endpoint,
            keypair,
            auth,
        }
    }

    /// The body of POST /api/v1/push/subscriptions, as PushSubscription.toJSON() gives it.
    pub fn subscription(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {
                "p256dh": URL_SAFE_NO_PAD.encode(self.keypair.pub_as_raw().unwrap()),
                "auth": URL_SAFE_NO_PAD.encode(self.auth),
            }
        })
    }

    /// Decrypts an aes128gcm body sent to this browser and reads it as JSON.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        let plain = ece::decrypt(&self.keypair.raw_components().unwrap(), &self.auth, body)
            .expect("the body decrypts with this browser's keys");
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

/// Checks `Authorization: vapid t=<JWT>, k=<key>`: k is the server's public key, and the JWT
/// is ES256-signed by it for `audience` (the endpoint's origin), names `subject`, and has
/// not expired.
pub fn assert_vapid(received: &Received, public_key: &str, audience: &str, subject: &str) {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let authorization = received
        .header("authorization")
        .unwrap_or_else(|| panic!("no Authorization header on {}", received.path));
    let parameters = authorization
        .strip_prefix("vapid ")
        .unwrap_or_else(|| panic!("not a vapid Authorization header: {authorization}"));
    let mut token = None;
    let mut key = None;
    for part in parameters.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => token = Some(value.trim()),
            Some(("k", value)) => key = Some(value.trim()),
            _ => {}
        }
    }
    let token = token.unwrap_or_else(|| panic!("no t= in {authorization}"));
    let key = key.unwrap_or_else(|| panic!("no k= in {authorization}"));
    assert_eq!(key, public_key, "k= is the server's VAPID public key");

    let point = URL_SAFE_NO_PAD.decode(key).unwrap();
    assert_eq!(point.len(), 65);
    let decoding = DecodingKey::from_ec_components(
        &URL_SAFE_NO_PAD.encode(&point[1..33]),
        &URL_SAFE_NO_PAD.encode(&point[33..65]),
    )
    .unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let data = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
        .unwrap_or_else(|e| panic!("the VAPID JWT does not verify: {e}"));
    assert_eq!(data.header.alg, Algorithm::ES256);
    assert_eq!(data.claims["sub"], subject, "{}", data.claims);
    assert_eq!(data.claims["aud"], audience, "{}", data.claims);
    let exp = data.claims["exp"].as_i64().expect("numeric exp");
    assert!(
        exp > chrono::Utc::now().timestamp(),
        "the VAPID JWT has expired: {}",
        data.claims
    );
}

/// Serves `handler` for every path on a loopback port with `state` as its data; the origin
/// and the handle that stops it. The test stand-ins of outside services share it.
pub fn serve_loopback<T, F, Args>(state: T, handler: F) -> (String, ServerHandle)
where
    T: Send + Sync + 'static,
    F: actix_web::Handler<Args> + Clone + Send + 'static,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    let shared = web::Data::new(state);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback stand-in");
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(handler.clone()))
    })
    .workers(2)
    .disable_signals()
    .shutdown_timeout(1)
    .listen(listener)
    .expect("a loopback stand-in listens")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}"), handle)
}
