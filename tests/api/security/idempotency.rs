//! Finding 11: a request with an Idempotency-Key is held to its endpoint's own body limit
//! before anything is buffered.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixtures::City;
use crate::helpers::spawn_app;

#[tokio::test]
async fn a_keyed_post_over_the_json_limit_is_refused_before_its_body_is_read() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let host = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&host).await.unwrap();
    // Announces 9 MiB of JSON, sends a few bytes, and waits: the JSON limit is 64 KiB.
    let head = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nIdempotency-Key: big-1\r\n\
         Content-Length: {}\r\n\r\n{{\"title\": \"",
        city.officer_a.access_token,
        9 * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut answer))
        .await
        .expect("answered without waiting for the 9 MiB")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
}
