//! The officer's tools over plain HTTP: a multipart compose form is refused without its
//! CSRF token before its file is read, an oversize file changes nothing; the roster names
//! members for officers and not for a 班長; the safety-check page refuses residents.
//! tests/api/browser/officer_tools.rs drives the same pages in Chromium.

use diesel::prelude::*;
use kairan::db::schema::{attachments, posts, safety_checks};

use crate::fixtures::{Actor, City};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::pages::{Jar, csrf_of};

pub(crate) const BOUNDARY: &str = "kairanTestBoundary";
pub(crate) const PDF: &[u8] = b"%PDF-1.4\n%%EOF\n";

pub(crate) async fn signed_in(app: &TestApp, actor: &Actor) -> Jar {
    let mut jar = Jar::default();
    let (_, body) = jar.get(app, "/login").await;
    let form = [
        ("csrf", csrf_of(&body)),
        ("login", actor.login.clone()),
        ("password", actor.password.clone()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    assert_eq!(jar.post(app, "/login", &form).await.status(), 303);
    jar
}

pub(crate) enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

pub(crate) fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            Part::File(file_name, content_type, content) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"attachment\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(content);
                body.extend_from_slice(b"\r\n");
            }
        }
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

pub(crate) async fn compose(app: &TestApp, jar: &mut Jar, parts: &[Part<'_>]) -> (u16, String) {
    let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
    let response = jar
        .post_body(app, "/officer/posts/new", &content_type, multipart(parts))
        .await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

fn count(app: &TestApp) -> (i64, i64) {
    let conn = &mut app.db.get().unwrap();
    let posts = posts::table.count().get_result(conn).unwrap();
    let files = attachments::table.count().get_result(conn).unwrap();
    (posts, files)
}

/// Attachment contents kept: files on SQLite, `attachment_blobs` rows on PostgreSQL (D47).
fn stored_files(app: &TestApp) -> usize {
    if app.database.is_postgres() {
        return app
            .database
            .pg_values("SELECT sha256 AS value FROM attachment_blobs")
            .len();
    }
    let root = app.database.data_dir.path().join("attachments");
    walk(&root)
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { walk(&path) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_compose_form_with_a_file_needs_its_csrf_token_first() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let (_, page) = jar.get(&app, "/officer/posts/new").await;
    let csrf = csrf_of(&page);
    let refused: [&[Part]; 3] = [
        // No token at all.
        &[
            Part::Text("title", "回覧"),
            Part::File("a.pdf", "application/pdf", PDF),
        ],
        // The file before the token.
        &[
            Part::File("a.pdf", "application/pdf", PDF),
            Part::Text("csrf", &csrf),
        ],
        // A wrong token.
        &[
            Part::Text("csrf", "wrong"),
            Part::File("a.pdf", "application/pdf", PDF),
        ],
    ];
    for parts in refused {
        let (status, body) = compose(&app, &mut jar, parts).await;
        assert_eq!(status, 400);
        assert!(body.contains("何も変更していません"), "{body}");
    }
    assert_eq!(count(&app), (0, 0), "nothing was stored");
    assert_eq!(stored_files(&app), 0);

    // With the token first, the circular and its file are stored.
    let parts = [
        Part::Text("csrf", &csrf),
        Part::Text("audience", "association"),
        Part::Text("title", "回覧"),
        Part::Text("body", "本文"),
        Part::File("a.pdf", "application/pdf", PDF),
    ];
    let (status, _) = compose(&app, &mut jar, &parts).await;
    assert_eq!(status, 303);
    assert_eq!(count(&app), (1, 1));
    assert_eq!(stored_files(&app), 1);
}

#[tokio::test]
async fn an_oversize_or_refused_file_redraws_the_form_and_stores_nothing() {
    let app = spawn_app_with(|s| s.posts.attachment_max_bytes = 2048).await;
    let city = City::build(&app).await;
    let mut jar = signed_in(&app, &city.officer_a).await;
    let (_, page) = jar.get(&app, "/officer/posts/new").await;
    let csrf = csrf_of(&page);
    let mut big = PDF.to_vec();
    big.resize(3000, b' ');
    let cases: [(&str, &str, &[u8], u16, &str); 4] = [
        (
            "big.pdf",
            "application/pdf",
            &big,
            413,
            "ファイルが大きすぎます。2 KBまで",
        ),
        (
            "memo.txt",
            "text/plain",
            b"text",
            422,
            "このファイルは付けられません。",
        ),
        (
            "photo.pdf",
            "application/pdf",
            b"\x89PNG\r\n\x1a\nrest",
            422,
            "このファイルは付けられません。",
        ),
        (
            "empty.pdf",
            "application/pdf",
            b"",
            422,
            "このファイルは付けられません。",
        ),
    ];
    for (name, content_type, content, expected, message) in cases {
        let parts = [
            Part::Text("csrf", &csrf),
            Part::Text("audience", "association"),
            Part::Text("title", "消えない題名"),
            Part::Text("body", "本文"),
            Part::File(name, content_type, content),
        ];
        let (status, body) = compose(&app, &mut jar, &parts).await;
        assert_eq!(status, expected, "{name}");
        assert!(body.contains(message), "{name}: {body}");
        assert!(body.contains("value=\"消えない題名\""), "the title is kept");
    }
    assert_eq!(count(&app), (0, 0), "nothing was stored");
    assert_eq!(stored_files(&app), 0);
}

#[tokio::test]
async fn the_roster_names_members_for_officers_and_not_for_a_han_leader() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut officer = signed_in(&app, &city.officer_a).await;
    let (answer, body) = officer.get(&app, "/officer/roster").await;
    assert_eq!(answer.status, 200);
    for name in ["住民四郎", "住民五郎", "班長三郎"] {
        assert!(body.contains(name), "the officer sees {name}");
    }
    assert!(body.contains("登録した人"));
    let mut leader = signed_in(&app, &city.han_leader_h1).await;
    let (answer, body) = leader.get(&app, "/officer/roster").await;
    assert_eq!(answer.status, 200);
    assert!(
        body.contains("住民宅イチ"),
        "the 班長 sees their 班's households"
    );
    assert!(!body.contains("住民四郎"), "but not who lives there");
}

#[tokio::test]
async fn residents_cannot_start_a_safety_check_and_a_blank_message_starts_none() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut resident = signed_in(&app, &city.resident_h1).await;
    let (answer, _) = resident.get(&app, "/officer/safety/new").await;
    assert_eq!(answer.status, 403);
    let (_, page) = resident.get(&app, "/settings").await;
    let csrf = csrf_of(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("audience", "association"),
        ("message", "地震です"),
    ];
    let response = resident.post(&app, "/officer/safety/new", &form).await;
    assert_eq!(response.status(), 403);

    let mut officer = signed_in(&app, &city.officer_a).await;
    let (_, page) = officer.get(&app, "/officer/safety/new").await;
    let csrf = csrf_of(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("audience", "association"),
        ("message", "  \n "),
    ];
    let response = officer.post(&app, "/officer/safety/new", &form).await;
    assert_eq!(response.status(), 422);
    let form = [("audience", "association"), ("message", "地震です")];
    let response = officer.post(&app, "/officer/safety/new", &form).await;
    assert_eq!(response.status(), 400, "no CSRF token");
    let checks: i64 = safety_checks::table
        .count()
        .get_result(&mut app.db.get().unwrap())
        .unwrap();
    assert_eq!(checks, 0);
}
