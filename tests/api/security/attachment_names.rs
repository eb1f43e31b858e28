//! Finding 10: an attachment's name ends in the extension of the type found in its content,
//! so `invoice.html` holding a PDF is saved and opened as a PDF.

use serde_json::{Value, json};

use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";
const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0\0\x10JFIF\0\x01\x01\0\0\x01\0\x01\0\0\xFF\xD9";

async fn upload(
    app: &TestApp,
    city: &City,
    post: &str,
    name: &str,
    kind: &str,
    bytes: &[u8],
) -> Value {
    let mut url =
        reqwest::Url::parse(&app.url(&format!("/api/v1/posts/{post}/attachments"))).unwrap();
    url.query_pairs_mut().append_pair("file_name", name);
    let response = app
        .client
        .post(url)
        .bearer_auth(&city.officer_a.access_token)
        .header("content-type", kind)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    expect_json(response, 201).await
}

#[tokio::test]
async fn a_pdf_named_html_is_saved_with_the_pdf_extension() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
                      "title": "会費の請求", "body": "請求書を添付します。"});
    let post = str_field(
        &expect_json(
            app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
            201,
        )
        .await,
        "id",
    );

    let invoice = upload(&app, &city, &post, "invoice.html", "application/pdf", PDF).await;
    assert_eq!(invoice["file_name"], "invoice.html.pdf", "{invoice}");
    let photo = upload(&app, &city, &post, "写真.JPEG", "image/jpeg", JPEG).await;
    assert_eq!(
        photo["file_name"], "写真.JPEG",
        "an agreeing extension stays: {photo}"
    );
    let png_named = upload(&app, &city, &post, "map.png", "image/jpeg", JPEG).await;
    assert_eq!(png_named["file_name"], "map.png.jpg", "{png_named}");

    let path = format!(
        "/api/v1/posts/{post}/attachments/{}",
        str_field(&invoice, "id")
    );
    let download = app.get_as(&city.resident_h1, &path).await;
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.contains("filename=\"invoice.html.pdf\"")
            && disposition.ends_with("''invoice.html.pdf"),
        "{disposition}"
    );
    let listed = expect_json(
        app.get_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{post}/attachments"),
        )
        .await,
        200,
    )
    .await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["file_name"].as_str())
        .collect();
    assert_eq!(names, ["invoice.html.pdf", "写真.JPEG", "map.png.jpg"]);
}
