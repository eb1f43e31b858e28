//! Finding 7: posts, attachments, safety checks and tallies with residents' own words are
//! audited; the audit log reads page by page, filtered by action, actor and time.

use std::collections::HashSet;

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

async fn audit_page(app: &TestApp, city: &City, query: &str) -> Value {
    let path = format!("/api/v1/audit-log?{query}");
    expect_json(app.get_as(&city.admin, &path).await, 200).await
}

/// The entries of one action on one target, as the admin reads them.
async fn entries(app: &TestApp, city: &City, action: &str, target: &str) -> Vec<Value> {
    let page = audit_page(app, city, &format!("action={action}&limit=500")).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target_id"] == target)
        .cloned()
        .collect()
}

async fn assert_audited(app: &TestApp, city: &City, action: &str, target: &str, by: &Actor) {
    let found = entries(app, city, action, target).await;
    assert_eq!(found.len(), 1, "one {action} entry for {target}: {found:?}");
    assert_eq!(
        found[0]["actor_id"],
        by.id.as_str(),
        "{action} by {}",
        by.login
    );
    assert_eq!(found[0]["action"], action);
}

async fn upload_pdf(app: &TestApp, by: &Actor, post: &str) -> String {
    let mut url =
        reqwest::Url::parse(&app.url(&format!("/api/v1/posts/{post}/attachments"))).unwrap();
    url.query_pairs_mut().append_pair("file_name", "資料.pdf");
    let response = app
        .client
        .post(url)
        .bearer_auth(&by.access_token)
        .header("Content-Type", "application/pdf")
        .body(PDF.to_vec())
        .send()
        .await
        .unwrap();
    str_field(&expect_json(response, 201).await, "id")
}

#[tokio::test]
async fn posts_attachments_safety_checks_and_tallies_with_free_text_are_audited() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let officer = &city.officer_a;
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "清掃活動のお知らせ",
        "body": "ご意見をお聞かせください。",
        "category": "survey",
        "questions": [{"kind": "short_text", "prompt": "ご意見"}],
        "answers_until": (Utc::now() + Duration::days(7)).to_rfc3339(),
    });
    let post = expect_json(app.post_as(officer, "/api/v1/posts", &body).await, 201).await;
    let (post_id, question) = (
        str_field(&post, "id"),
        str_field(&post["questions"][0], "id"),
    );
    assert_audited(&app, &city, "post_created", &post_id, officer).await;
    let created = &entries(&app, &city, "post_created", &post_id).await[0];
    assert_eq!(created["association_id"], city.association_a.as_str());

    let path = format!("/api/v1/posts/{post_id}");
    let edit = json!({"title": "清掃活動のお知らせ（改）"});
    expect_json(app.patch_as(officer, &path, &edit).await, 200).await;
    assert_audited(&app, &city, "post_edited", &post_id, officer).await;

    let attachment = upload_pdf(&app, officer, &post_id).await;
    assert_audited(&app, &city, "attachment_added", &post_id, officer).await;
    let added = &entries(&app, &city, "attachment_added", &post_id).await[0];
    assert_eq!(added["detail"]["attachment_id"], attachment.as_str());
    let attachment_path = format!("{path}/attachments/{attachment}");
    let removed = app.delete_as(officer, &attachment_path).await;
    assert!(removed.status().is_success(), "{}", removed.status());
    assert_audited(&app, &city, "attachment_removed", &post_id, officer).await;

    // A tally without any resident's words is no read of personal data.
    let tally_path = format!("{path}/tally");
    expect_json(app.get_as(officer, &tally_path).await, 200).await;
    assert!(
        entries(&app, &city, "survey_tally_read", &post_id)
            .await
            .is_empty()
    );
    let answer = json!({"answers": [{"question_id": question, "text": "ゴミ袋を増やして"}]});
    let answers_path = format!("{path}/answers");
    let put = app
        .send_as(
            reqwest::Method::PUT,
            Some(&city.resident_h1),
            &answers_path,
            Some(&answer),
        )
        .await;
    expect_json(put, 200).await;
    let tally = expect_json(app.get_as(officer, &tally_path).await, 200).await;
    assert_eq!(tally["questions"][0]["texts"], json!(["ゴミ袋を増やして"]));
    assert_audited(&app, &city, "survey_tally_read", &post_id, officer).await;

    let withdraw = app
        .post_as(officer, &format!("{path}/withdraw"), &json!({}))
        .await;
    assert!(withdraw.status().is_success(), "{}", withdraw.status());
    assert_audited(&app, &city, "post_withdrawn", &post_id, officer).await;

    let check = json!({"scope": {"kind": "association", "id": city.association_a},
                       "message": "地震がありました。ご無事ですか。"});
    let started = expect_json(
        app.post_as(officer, "/api/v1/safety-checks", &check).await,
        201,
    );
    let check_id = str_field(&started.await, "id");
    assert_audited(&app, &city, "safety_check_started", &check_id, officer).await;
}

/// Every entry's id across all pages of `query` with `limit` per page, in order.
async fn walk(app: &TestApp, city: &City, query: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut q = format!("{query}&limit={limit}");
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={c}"));
        }
        let page = audit_page(app, city, &q).await;
        let items = page["items"].as_array().unwrap().clone();
        assert!(items.len() <= limit, "a page holds at most its limit");
        all.extend(items);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => return all,
        }
        assert!(all.len() < 10_000, "the pages end");
    }
}

#[tokio::test]
async fn the_audit_log_reads_page_by_page_and_by_action_actor_and_time() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before_posts = Utc::now();
    for n in 0..5 {
        let body = json!({"scope": {"kind": "association", "id": city.association_a},
                          "title": format!("お知らせ {n}"), "body": "本文"});
        expect_json(
            app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
            201,
        )
        .await;
    }
    let body = json!({"scope": {"kind": "association", "id": city.association_b},
                      "title": "B のお知らせ", "body": "本文"});
    expect_json(
        app.post_as(&city.officer_b, "/api/v1/posts", &body).await,
        201,
    )
    .await;

    // Everything, two at a time: each entry once, newest first, the last page says so.
    let whole = audit_page(&app, &city, "limit=500").await;
    let whole = whole["items"].as_array().unwrap().clone();
    assert!(whole.len() > 6, "the city's making is audited too");
    let paged = walk(&app, &city, "x=1", 2).await;
    let ids =
        |entries: &[Value]| -> Vec<String> { entries.iter().map(|e| str_field(e, "id")).collect() };
    assert_eq!(
        ids(&paged),
        ids(&whole),
        "pages add up to the whole log, in order"
    );
    assert_eq!(
        ids(&paged).into_iter().collect::<HashSet<_>>().len(),
        paged.len()
    );
    let times: Vec<_> = paged
        .iter()
        .map(|e| chrono::DateTime::parse_from_rfc3339(&str_field(e, "created_at")).unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    let by_action = walk(&app, &city, "action=post_created", 2).await;
    assert_eq!(by_action.len(), 6);
    assert!(by_action.iter().all(|e| e["action"] == "post_created"));

    let query = format!("action=post_created&actor_id={}", city.officer_a.id);
    let by_actor = walk(&app, &city, &query, 3).await;
    assert_eq!(by_actor.len(), 5);
    assert!(
        by_actor
            .iter()
            .all(|e| e["actor_id"] == city.officer_a.id.as_str())
    );

    let since = before_posts.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let query = format!("since={}", urlencode(&since));
    let recent = walk(&app, &city, &query, 4).await;
    assert_eq!(recent.len(), 6, "only the posts came after: {recent:?}");
    let query = format!("until={}", urlencode(&since));
    let older = walk(&app, &city, &query, 50).await;
    assert_eq!(older.len() + recent.len(), whole.len());

    let query = format!("association_id={}&action=post_created", city.association_b);
    assert_eq!(walk(&app, &city, &query, 10).await.len(), 1);

    for (query, code) in [
        ("cursor=not-a-cursor", "invalid_cursor"),
        ("action=no_such_action", "invalid_query"),
        ("since=yesterday", "invalid_query"),
    ] {
        let path = format!("/api/v1/audit-log?{query}");
        let response = app.get_as(&city.admin, &path).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(error_code(response).await, code, "{query}");
    }
}

fn urlencode(value: &str) -> String {
    value.replace(':', "%3A").replace('+', "%2B")
}
