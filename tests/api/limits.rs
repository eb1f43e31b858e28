//! Huge input anywhere gets a clear 4xx and changes nothing.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::fixtures::{City, expect_json};
use crate::helpers::{TestApp, error_code, spawn_app};

async fn post_count(app: &TestApp, city: &City) -> usize {
    let inbox = expect_json(
        app.get_as(&city.officer_a, "/api/v1/me/inbox?limit=100")
            .await,
        200,
    )
    .await;
    inbox["items"].as_array().unwrap().len()
}

async fn han_count(app: &TestApp, city: &City) -> usize {
    let path = format!("/api/v1/associations/{}/hans", city.association_a);
    let hans = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    hans["items"].as_array().unwrap().len()
}

fn post_body(city: &City) -> Value {
    json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "上限のお知らせ",
        "body": "本文",
    })
}

async fn assert_refused(response: reqwest::Response, status: u16, code: &str, what: &str) {
    assert_eq!(response.status(), status, "{what}");
    assert_eq!(error_code(response).await, code, "{what}");
}

#[tokio::test]
async fn huge_bodies_strings_and_lists_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (posts_before, hans_before) = (post_count(&app, &city).await, han_count(&app, &city).await);
    let hans_path = format!("/api/v1/associations/{}/hans", city.association_a);

    // Over the circular limit (256 KiB) and over the ordinary limit (64 KiB).
    let mut body = post_body(&city);
    body["body"] = json!("あ".repeat(100_000));
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_refused(response, 413, "payload_too_large", "a 300 KB circular").await;
    let name = json!({"name": "x".repeat(70_000)});
    let response = app.post_as(&city.officer_a, &hans_path, &name).await;
    assert_refused(response, 413, "payload_too_large", "a 70 KB han").await;

    // Within the body limit, but strings far over their own limits.
    let name = json!({"name": "班".repeat(15_000)});
    let response = app.post_as(&city.officer_a, &hans_path, &name).await;
    assert_refused(
        response,
        422,
        "invalid_input",
        "a 15,000-character han name",
    )
    .await;
    let mut body = post_body(&city);
    body["title"] = json!("題".repeat(5_000));
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_eq!(response.status(), 422, "a 5,000-character title");
    let mut body = post_body(&city);
    body["body"] = json!("x".repeat(200_000));
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_eq!(response.status(), 422, "a 200,000-character body");

    // Lists far longer than any association or survey needs.
    let mut body = post_body(&city);
    body["han_ids"] = json!(vec![city.han_h1.clone(); 5_000]);
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_refused(response, 422, "invalid_input", "5,000 han ids").await;
    let mut body = post_body(&city);
    let question = json!({"kind": "single_choice", "prompt": "出欠", "options": ["出", "欠"]});
    body["questions"] = json!(vec![question; 500]);
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_refused(response, 422, "invalid_input", "500 questions").await;
    let mut body = post_body(&city);
    let options: Vec<String> = (0..2_000).map(|i| format!("選択肢{i}")).collect();
    body["questions"] = json!([{"kind": "single_choice", "prompt": "どれ", "options": options}]);
    let response = app.post_as(&city.officer_a, "/api/v1/posts", &body).await;
    assert_eq!(response.status(), 422, "2,000 options");
    // A repeated category list folds to the seven categories there are.
    let muted = json!({"muted_categories": vec!["notice"; 5_000]});
    let response = app
        .send_as(
            reqwest::Method::PUT,
            Some(&city.resident_h1),
            "/api/v1/me/notification-preferences",
            Some(&muted),
        )
        .await;
    let stored = expect_json(response, 200).await;
    assert_eq!(stored["muted_categories"], json!(["notice"]));

    assert_eq!(
        post_count(&app, &city).await,
        posts_before,
        "no post was made"
    );
    assert_eq!(han_count(&app, &city).await, hans_before, "no han was made");
}

#[tokio::test]
async fn huge_query_parameters_and_path_ids_get_clear_errors() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let cases = [
        (format!("/api/v1/me/inbox?q={}", "a".repeat(5_000)), 400),
        (
            format!("/api/v1/me/inbox?cursor={}", "A".repeat(5_000)),
            400,
        ),
        (
            "/api/v1/me/inbox?limit=99999999999999999999999".to_string(),
            400,
        ),
        ("/api/v1/me/inbox?limit=100000".to_string(), 400),
        (format!("/api/v1/posts/{}", "0".repeat(5_000)), 404),
        (
            format!("/api/v1/associations/{}/hans", "a".repeat(5_000)),
            404,
        ),
        (
            format!(
                "/api/v1/audit-log?limit=1000000&association_id={}",
                "b".repeat(5_000)
            ),
            403,
        ),
    ];
    for (path, status) in cases {
        let response = app.get_as(&city.officer_a, &path).await;
        assert_eq!(response.status(), status, "{}", &path[..60.min(path.len())]);
        error_code(response).await;
    }
    // A request line far beyond what any client sends (reqwest will not even build it) is
    // refused by the HTTP layer with a 4xx, not a hang or a 5xx.
    let request = format!(
        "GET /api/v1/me/inbox?q={} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        "a".repeat(200_000)
    );
    let address = app.address.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let _ = stream.write_all(request.as_bytes()).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let status_line = String::from_utf8_lossy(&answer[..answer.len().min(12)]).to_string();
    assert!(status_line.starts_with("HTTP/1.1 4"), "{status_line:?}");
}

#[tokio::test]
async fn a_roster_file_over_its_limit_is_refused_and_imports_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/households", city.association_a);
    let households = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    let mut csv = String::from("han,label,paper\n");
    while csv.len() < 2 * 1024 * 1024 {
        csv.push_str("一班,大きな名簿の世帯,no\n");
    }
    let response = app
        .client
        .post(app.url(&format!(
            "/api/v1/associations/{}/roster.csv",
            city.association_a
        )))
        .bearer_auth(&city.officer_a.access_token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_refused(response, 413, "payload_too_large", "a 2 MiB roster").await;
    let after = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    assert_eq!(after, households);
}

#[tokio::test]
async fn overload_is_answered_with_503_and_retry_after_not_queued() {
    // One connection, and a request waits at most 50 ms for it: enough for the fixture's
    // requests one at a time beside the background tasks, far too little for a burst of 200.
    let app = crate::helpers::spawn_app_with(|s| {
        s.database.max_connections = 1;
        s.database.queue_timeout_ms = 50;
    })
    .await;
    let city = City::build(&app).await;
    let burst =
        (0..200).map(|_| app.get_as(&city.resident_h1, "/api/v1/me/notification-preferences"));
    let responses = futures_util::future::join_all(burst).await;
    let mut busy = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(
                    response.headers()["retry-after"].to_str().unwrap(),
                    "1",
                    "a busy answer says when to come back"
                );
                assert_eq!(error_code(response).await, "service_unavailable");
            }
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    assert!(
        busy > 0,
        "200 requests at once on one connection overflowed"
    );
    // Overload passes without a trace.
    expect_json(
        app.get_as(&city.resident_h1, "/api/v1/me/notification-preferences")
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn past_the_requests_in_progress_a_request_is_answered_503_at_once_and_health_never() {
    // One place, and a request waits 1 ms for it: a burst overflows whatever the database
    // does (the inbox is answered from memory), while the fixture's requests one at a time
    // still pass. On a crowded machine a burst's connections may arrive spread out and
    // all find the place free, so bursts repeat (a few at most) until each kind has been
    // refused; every answer of every burst is checked.
    let app = crate::helpers::spawn_app_with(|s| {
        s.server.max_requests_in_progress = 1;
        s.server.admission_wait_ms = 1;
    })
    .await;
    let city = City::build(&app).await;
    let (mut busy, mut busy_pages) = (0, 0);
    for _ in 0..5 {
        let (api, pages) = burst(&app, &city).await;
        busy += api;
        busy_pages += pages;
        if busy > 0 && busy_pages > 0 {
            break;
        }
    }
    assert!(busy > 0, "200 requests at once overflowed one place");
    assert!(busy_pages > 0, "pages take places too");
    // The burst leaves no place taken.
    expect_json(app.get_as(&city.resident_h1, "/api/v1/me/inbox").await, 200).await;
}

/// 200 inbox requests, 50 pages and 100 health checks at once: each answer is a success or
/// a quick 503 with Retry-After, and health is never refused. Returns the 503s (API, pages).
async fn burst(app: &TestApp, city: &City) -> (usize, usize) {
    let inbox = (0..200).map(|_| app.get_as(&city.resident_h1, "/api/v1/me/inbox"));
    let pages = (0..50).map(|_| {
        app.client
            .get(app.url("/login"))
            .header("Accept", crate::pages::HTML)
            .header("Accept-Language", "en")
            .send()
    });
    let health = (0..100).map(|_| app.client.get(app.url("/livez")).send());
    let (inbox, pages, health) = tokio::join!(
        futures_util::future::join_all(inbox),
        futures_util::future::join_all(pages),
        futures_util::future::join_all(health),
    );
    let mut busy = 0;
    for response in inbox {
        match response.status().as_u16() {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                assert_eq!(error_code(response).await, "service_unavailable");
            }
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    let mut busy_pages = 0;
    for response in pages {
        let response = response.unwrap();
        match response.status().as_u16() {
            200 => {}
            503 => {
                busy_pages += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                let body = response.text().await.unwrap();
                assert!(
                    body.contains("Busy right now"),
                    "a browser gets the busy page: {body}"
                );
            }
            other => panic!("{other}: {}", response.text().await.unwrap()),
        }
    }
    for response in health {
        assert_eq!(
            response.unwrap().status(),
            200,
            "health checks are never refused"
        );
    }
    (busy, busy_pages)
}

#[tokio::test]
async fn a_slow_sender_holds_no_place() {
    // One place: a request whose body is still on its way must not keep others out.
    let app = crate::helpers::spawn_app_with(|s| {
        s.server.max_requests_in_progress = 1;
        s.server.admission_wait_ms = 200;
    })
    .await;
    let city = City::build(&app).await;
    let mut slow = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\":",
        city.officer_a.access_token
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    for _ in 0..3 {
        expect_json(app.get_as(&city.resident_h1, "/api/v1/me/inbox").await, 200).await;
    }
    drop(slow);
}
