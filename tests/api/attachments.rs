//! Attachments: checked by content, stored by hash in the data folder, served only to the
//! post's audience.

use std::path::{Path, PathBuf};

use reqwest::Response;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9";

async fn create_post(app: &TestApp, city: &City) -> String {
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "防災訓練のお知らせ",
        "body": "資料を添付します。",
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    str_field(&created, "id")
}

async fn upload(
    app: &TestApp,
    by: &Actor,
    post: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Response {
    let mut url =
        reqwest::Url::parse(&app.url(&format!("/api/v1/posts/{post}/attachments"))).unwrap();
    url.query_pairs_mut().append_pair("file_name", file_name);
    app.client
        .post(url)
        .bearer_auth(&by.access_token)
        .header("Content-Type", content_type)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

async fn upload_ok(
    app: &TestApp,
    by: &Actor,
    post: &str,
    file_name: &str,
    content_type: &str,
    bytes: &[u8],
) -> Value {
    expect_json(
        upload(app, by, post, file_name, content_type, bytes).await,
        201,
    )
    .await
}

fn attachment_path(post: &str, attachment: &str) -> String {
    format!("/api/v1/posts/{post}/attachments/{attachment}")
}

async fn list(app: &TestApp, by: &Actor, post: &str) -> Response {
    app.get_as(by, &format!("/api/v1/posts/{post}/attachments"))
        .await
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if dir.exists() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(files_under(&path));
            } else {
                files.push(path);
            }
        }
    }
    files
}

/// The stored attachment files, as `<2 hex>/<64 hex>` relative to `<data_dir>/attachments`;
/// on PostgreSQL the stored contents, named the same way.
fn stored_files(app: &TestApp) -> Vec<String> {
    if app.database.is_postgres() {
        use diesel::prelude::*;
        let mut conn = app.db.get().unwrap();
        let mut hashes: Vec<String> = kairan::db::schema::attachment_blobs::table
            .select(kairan::db::schema::attachment_blobs::sha256)
            .load(&mut *conn)
            .unwrap();
        hashes.sort();
        return hashes.iter().map(|h| format!("{}/{h}", &h[..2])).collect();
    }
    let root = app.database.data_dir.path().join("attachments");
    let mut files: Vec<String> = files_under(&root)
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    files
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[tokio::test]
async fn uploads_download_with_the_same_bytes_and_safe_headers() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;

    for (name, content_type, bytes) in [
        ("案内.pdf", "application/pdf", PDF),
        ("地図.png", "image/png", PNG),
        ("写真.jpg", "image/jpeg", JPEG),
    ] {
        let created = upload_ok(&app, &city.officer_a, &post, name, content_type, bytes).await;
        assert_eq!(created["post_id"], post.as_str());
        assert_eq!(created["file_name"], name);
        assert_eq!(created["content_type"], content_type);
        assert_eq!(created["size_bytes"], bytes.len());
        assert_eq!(created["sha256"], sha256_hex(bytes));
        assert!(created["created_at"].is_string());

        let path = attachment_path(&post, &str_field(&created, "id"));
        let response = app.get_as(&city.resident_h1, &path).await;
        assert_eq!(response.status().as_u16(), 200);
        let headers = response.headers().clone();
        assert_eq!(headers["content-type"], content_type);
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["cache-control"], "private, max-age=3600");
        assert_eq!(headers["content-length"], bytes.len().to_string().as_str());
        let disposition = headers["content-disposition"].to_str().unwrap();
        assert!(
            disposition.starts_with("attachment; filename=\""),
            "{disposition}"
        );
        assert_eq!(response.bytes().await.unwrap().as_ref(), bytes);
    }

    let listed = expect_json(list(&app, &city.resident_h2, &post).await, 200).await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["案内.pdf", "地図.png", "写真.jpg"]);
    assert_eq!(stored_files(&app).len(), 3);
}

#[tokio::test]
async fn a_japanese_file_name_comes_back_in_filename_star() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    let name = "回覧板 5月号.pdf";

    let created = upload_ok(&app, &city.officer_a, &post, name, "application/pdf", PDF).await;
    let response = app
        .get_as(
            &city.resident_h1,
            &attachment_path(&post, &str_field(&created, "id")),
        )
        .await;

    assert_eq!(response.status().as_u16(), 200);
    let disposition = response.headers()["content-disposition"].to_str().unwrap();
    let encoded = "%E5%9B%9E%E8%A6%A7%E6%9D%BF%205%E6%9C%88%E5%8F%B7.pdf";
    assert_eq!(
        disposition,
        format!("attachment; filename=\"___ 5__.pdf\"; filename*=UTF-8''{encoded}")
    );
}

#[tokio::test]
async fn a_path_as_file_name_stores_nothing_outside_the_attachment_folder() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;

    let created = upload_ok(
        &app,
        &city.officer_a,
        &post,
        "../../etc/passwd",
        "application/pdf",
        PDF,
    )
    .await;

    // Separators dropped; the PDF found in it gives the name its extension (decision 43).
    assert_eq!(created["file_name"], "....etcpasswd.pdf");
    let data_dir = app.database.data_dir.path();
    for file in files_under(data_dir) {
        let relative = file.strip_prefix(data_dir).unwrap();
        let parts: Vec<String> = relative
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        match parts.as_slice() {
            [name] => assert!(
                name.starts_with("kairan.sqlite3")
                    || ["jwt-keys.json", "vapid-private-key", "link-key"].contains(&name.as_str()),
                "unexpected file {name}"
            ),
            [root, dir, name] => assert!(
                root == "attachments"
                    && is_hex(dir, 2)
                    && is_hex(name, 64)
                    && name.starts_with(dir.as_str()),
                "unexpected file {}",
                relative.display()
            ),
            _ => panic!("unexpected file {}", relative.display()),
        }
    }
    assert_eq!(stored_files(&app).len(), 1);
}

#[tokio::test]
async fn a_png_declared_as_pdf_is_refused_and_nothing_is_stored() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;

    let response = upload(
        &app,
        &city.officer_a,
        &post,
        "x.pdf",
        "application/pdf",
        PNG,
    )
    .await;

    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(error_code(response).await, "attachment_type_mismatch");
    let listed = expect_json(list(&app, &city.officer_a, &post).await, 200).await;
    assert_eq!(listed["items"], json!([]));
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn text_declared_as_pdf_is_an_unsupported_type() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;

    let response = upload(
        &app,
        &city.officer_a,
        &post,
        "notes.pdf",
        "application/pdf",
        b"just some text, not a PDF",
    )
    .await;

    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(error_code(response).await, "unsupported_attachment_type");
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn other_declared_types_and_empty_bodies_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;

    let gif = upload(
        &app,
        &city.officer_a,
        &post,
        "a.gif",
        "image/gif",
        b"GIF89a",
    )
    .await;
    assert_eq!(gif.status().as_u16(), 415);
    assert_eq!(error_code(gif).await, "unsupported_attachment_type");

    let empty = upload(
        &app,
        &city.officer_a,
        &post,
        "a.pdf",
        "application/pdf",
        b"",
    )
    .await;
    assert_eq!(empty.status().as_u16(), 422);
    assert_eq!(error_code(empty).await, "empty_attachment");

    let no_name = upload(
        &app,
        &city.officer_a,
        &post,
        "/\\\u{7}",
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(no_name.status().as_u16(), 422);
    assert_eq!(error_code(no_name).await, "invalid_input");

    let long_name = format!("{}.pdf", "あ".repeat(200));
    let too_long = upload(
        &app,
        &city.officer_a,
        &post,
        &long_name,
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(too_long.status().as_u16(), 422);

    let missing_name = app
        .client
        .post(app.url(&format!("/api/v1/posts/{post}/attachments")))
        .bearer_auth(&city.officer_a.access_token)
        .header("Content-Type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(missing_name.status().as_u16(), 400);
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn an_oversize_upload_is_refused_and_nothing_is_stored() {
    let app = spawn_app_with(|s| s.posts.attachment_max_bytes = 2048).await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    let mut big = PDF.to_vec();
    big.resize(2049, b' ');

    let response = upload(
        &app,
        &city.officer_a,
        &post,
        "big.pdf",
        "application/pdf",
        &big,
    )
    .await;

    assert_eq!(response.status().as_u16(), 413);
    assert_eq!(error_code(response).await, "payload_too_large");
    let listed = expect_json(list(&app, &city.officer_a, &post).await, 200).await;
    assert_eq!(listed["items"], json!([]));
    assert!(stored_files(&app).is_empty());

    big.truncate(2048);
    upload_ok(
        &app,
        &city.officer_a,
        &post,
        "fits.pdf",
        "application/pdf",
        &big,
    )
    .await;
}

#[tokio::test]
async fn people_outside_the_audience_get_404_on_list_and_download() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    let created = upload_ok(
        &app,
        &city.officer_a,
        &post,
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let download = attachment_path(&post, &str_field(&created, "id"));
    let resident_b = app
        .new_resident(
            &city.officer_b,
            &city.association_b,
            Some(&city.household_b),
            "resident.b@kairan.test",
            "二丁目住民十郎",
        )
        .await;

    for outsider in [&resident_b, &city.officer_b, &city.officer_c] {
        let listed = list(&app, outsider, &post).await;
        assert_eq!(listed.status().as_u16(), 404, "{}", outsider.login);
        assert_eq!(error_code(listed).await, "not_found");
        let fetched = app.get_as(outsider, &download).await;
        assert_eq!(fetched.status().as_u16(), 404, "{}", outsider.login);
        let body = fetched.text().await.unwrap();
        assert!(body.contains("post not found"), "{body}");
    }
}

#[tokio::test]
async fn residents_in_the_audience_download_but_cannot_upload_or_delete() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    let created = upload_ok(
        &app,
        &city.officer_a,
        &post,
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let download = attachment_path(&post, &str_field(&created, "id"));

    let fetched = app.get_as(&city.resident_h1, &download).await;
    assert_eq!(fetched.status().as_u16(), 200);

    let uploaded = upload(&app, &city.resident_h1, &post, "b.png", "image/png", PNG).await;
    assert_eq!(uploaded.status().as_u16(), 404);
    assert_eq!(error_code(uploaded).await, "not_found");

    let deleted = app.delete_as(&city.resident_h1, &download).await;
    assert_eq!(deleted.status().as_u16(), 404);
    assert_eq!(error_code(deleted).await, "not_found");

    let listed = expect_json(list(&app, &city.resident_h1, &post).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(stored_files(&app).len(), 1);
}

#[tokio::test]
async fn an_attachment_of_another_post_is_not_found() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let first = create_post(&app, &city).await;
    let second = create_post(&app, &city).await;
    let created = upload_ok(
        &app,
        &city.officer_a,
        &first,
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;

    let response = app
        .get_as(
            &city.resident_h1,
            &attachment_path(&second, &str_field(&created, "id")),
        )
        .await;

    assert_eq!(response.status().as_u16(), 404);
    let deleted = app
        .delete_as(
            &city.officer_a,
            &attachment_path(&second, &str_field(&created, "id")),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 404);
}

#[tokio::test]
async fn withdrawing_the_post_hides_its_attachments_from_residents() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    let created = upload_ok(
        &app,
        &city.officer_a,
        &post,
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let download = attachment_path(&post, &str_field(&created, "id"));

    let withdrawn = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/posts/{post}/withdraw"),
            &json!({}),
        )
        .await;
    assert_eq!(withdrawn.status().as_u16(), 204);

    let fetched = app.get_as(&city.resident_h1, &download).await;
    assert_eq!(fetched.status().as_u16(), 404);
    assert_eq!(
        list(&app, &city.resident_h1, &post).await.status().as_u16(),
        404
    );
    let kept = app.get_as(&city.officer_a, &download).await;
    assert_eq!(kept.status().as_u16(), 200);
    let refused = upload(
        &app,
        &city.officer_a,
        &post,
        "b.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(refused.status().as_u16(), 409);
    assert_eq!(error_code(refused).await, "post_withdrawn");
}

#[tokio::test]
async fn a_shared_file_is_removed_only_with_its_last_attachment() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let first = create_post(&app, &city).await;
    let second = create_post(&app, &city).await;
    let a = upload_ok(
        &app,
        &city.officer_a,
        &first,
        "a.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    let b = upload_ok(
        &app,
        &city.officer_a,
        &second,
        "b.pdf",
        "application/pdf",
        PDF,
    )
    .await;
    assert_eq!(a["sha256"], b["sha256"]);
    assert_eq!(stored_files(&app).len(), 1);

    let deleted = app
        .delete_as(
            &city.officer_a,
            &attachment_path(&first, &str_field(&a, "id")),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert_eq!(stored_files(&app).len(), 1);
    let still = app
        .get_as(
            &city.resident_h1,
            &attachment_path(&second, &str_field(&b, "id")),
        )
        .await;
    assert_eq!(still.bytes().await.unwrap().as_ref(), PDF);
    let listed = expect_json(list(&app, &city.officer_a, &first).await, 200).await;
    assert_eq!(listed["items"], json!([]));

    let deleted = app
        .delete_as(
            &city.officer_a,
            &attachment_path(&second, &str_field(&b, "id")),
        )
        .await;
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(stored_files(&app).is_empty());
}

#[tokio::test]
async fn a_post_takes_at_most_ten_attachments() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = create_post(&app, &city).await;
    for i in 0..10 {
        let name = format!("{i}.pdf");
        upload_ok(&app, &city.officer_a, &post, &name, "application/pdf", PDF).await;
    }

    let response = upload(
        &app,
        &city.officer_a,
        &post,
        "11.pdf",
        "application/pdf",
        PDF,
    )
    .await;

    assert_eq!(response.status().as_u16(), 422);
    assert_eq!(error_code(response).await, "too_many_attachments");
    let listed = expect_json(list(&app, &city.officer_a, &post).await, 200).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 10);
}
