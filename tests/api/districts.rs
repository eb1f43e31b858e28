use kairan::db::now;
use kairan::domain::Tier;
use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Actor, create_admin_directly, expect_json};
use crate::helpers::{TestApp, error_code, spawn_app, spawn_app_with};
use crate::pages_forms::{beside, summarised};
use crate::pages_officer::{signed_in, submit};
use crate::stats::{History, adoption, current, district, mid, snapshot, staff};

async fn admin_get(app: &TestApp, path: &str) -> reqwest::Response {
    create_admin_directly(app, "admin@city.kanazawa.jp", "district admin password");
    let admin = app
        .sign_in("admin@city.kanazawa.jp", "district admin password")
        .await;
    app.get_as(&admin, path).await
}

#[tokio::test]
async fn first_start_loads_the_kanazawa_districts() {
    let app = spawn_app().await;
    let response = admin_get(&app, "/api/v1/districts").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 64);
    let codes: Vec<&str> = items.iter().map(|d| d["code"].as_str().unwrap()).collect();
    let mut sorted = codes.clone();
    sorted.sort_unstable();
    assert_eq!(codes, sorted, "districts come in code order");
    let ioozen = items.iter().find(|d| d["code"] == "KZ05").unwrap();
    assert_eq!(ioozen["name"], "医王山");
    assert_eq!(ioozen["name_kana"], "いおうぜん");
    assert!(ioozen["id"].as_str().unwrap().len() == 36);
}

#[tokio::test]
async fn seeding_can_be_turned_off() {
    let app = spawn_app_with(|s| s.database.seed_kanazawa_districts = false).await;
    let body: serde_json::Value = admin_get(&app, "/api/v1/districts")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn districts_are_for_signed_in_members() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/districts").await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_code(response).await, "unauthorized");
}

// ---------------------------------------------------------------------------------------
// Corrections by city staff: rename, merge, archive, restore, with the dashboard around them

/// Figures without the names (a renamed district shows its new name in every month).
fn figures_of(dashboard: &Value) -> Vec<Value> {
    dashboard["districts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.as_object_mut().unwrap().remove("name");
            d
        })
        .collect()
}

fn listed(dashboard: &Value, id: &str) -> bool {
    dashboard["districts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id)
}

async fn district_list(app: &TestApp, by: &Actor) -> Vec<Value> {
    expect_json(app.get_as(by, "/api/v1/districts").await, 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn history(app: &TestApp, by: &Actor, id: &str) -> Vec<Value> {
    let path = format!("/api/v1/districts/{id}/history");
    expect_json(app.get_as(by, &path).await, 200).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn audit_actions(app: &TestApp, district: &str) -> Vec<String> {
    use diesel::prelude::*;
    use kairan::db::schema::audit_log;
    audit_log::table
        .filter(audit_log::target_id.eq(district))
        .order(audit_log::created_at.asc())
        .select(audit_log::action)
        .load(&mut app.db.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_merge_moves_the_associations_and_the_current_month_counts_the_new_list_once() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let (d1, d2) = (&s.districts[0], &s.districts[1]);
    // d1: registered households but no circulars of its own; d2: a district circular every
    // month from four months ago on. Only d2 is active.
    let a1 = h.association(d1, "一丁目", 100);
    let a2 = h.association(d2, "二丁目", 100);
    for _ in 0..10 {
        h.registered(&a1, None);
        h.registered(&a2, None);
    }
    let frozen = current().plus(-2);
    for n in -4..=0 {
        h.post(
            Tier::District,
            Some(d2),
            &[],
            mid(current().plus(n)).min(now() - chrono::Duration::hours(1)),
            false,
        );
    }
    snapshot(&app, &s.staff, json!({})).await;
    let before_frozen = adoption(&app, &s.staff, frozen).await;
    let before_now = adoption(&app, &s.staff, current()).await;
    assert_eq!(before_now["active_districts"], 1);
    assert_eq!(district(&before_now, d2)["active"], true);
    assert_eq!(district(&before_now, d1)["active"], false);

    let merged = expect_json(
        app.post_as(
            &s.staff,
            &format!("/api/v1/districts/{d2}/merge"),
            &json!({"into": d1}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(merged["moved_associations"], 1, "{merged}");
    assert_eq!(merged["district"]["archived"], true);
    assert_eq!(merged["district"]["merged_into"], d1.as_str());
    assert_eq!(merged["into"]["id"], d1.as_str());

    // The frozen month says what it said, d2 included.
    let after_frozen = adoption(&app, &s.staff, frozen).await;
    assert_eq!(after_frozen["districts"], before_frozen["districts"]);
    assert_eq!(
        after_frozen["active_districts"],
        before_frozen["active_districts"]
    );
    assert!(listed(&after_frozen, d2));
    // The month under way counts d1 with both associations and d2's circulars, d2 no more.
    let after_now = adoption(&app, &s.staff, current()).await;
    assert!(!listed(&after_now, d2), "{after_now}");
    let one = district(&after_now, d1);
    assert_eq!(one["associations"], 2);
    assert_eq!(one["figures"]["member_households"], 200);
    assert_eq!(one["figures"]["registered_households"], 20);
    assert_eq!(one["active"], true, "{one}");
    assert_eq!(
        after_now["active_districts"], 1,
        "one district, counted once"
    );
    assert_eq!(
        after_now["districts_counted"].as_i64().unwrap(),
        before_now["districts_counted"].as_i64().unwrap() - 1
    );
    // The list, the associations, the history and the audit log follow.
    let list = district_list(&app, &s.staff).await;
    assert!(list.iter().all(|d| d["id"] != d2.as_str()));
    let a2_now = expect_json(
        app.get_as(&s.staff, &format!("/api/v1/associations/{}", a2.0))
            .await,
        200,
    )
    .await;
    assert_eq!(a2_now["district_id"], d1.as_str());
    let changes = history(&app, &s.staff, d2).await;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["kind"], "merged");
    assert_eq!(changes[0]["detail"]["into"], d1.as_str());
    assert_eq!(audit_actions(&app, d2), vec!["district_merged"]);
    // Its own figures are no longer shown as a current district's.
    let gone = app
        .get_as(&s.staff, &format!("/api/v1/districts/{d2}/stats"))
        .await;
    assert_eq!(gone.status(), 404);
}

#[tokio::test]
async fn rename_archive_and_restore_keep_frozen_months_and_change_the_current_list() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let (d1, d3) = (&s.districts[0], &s.districts[2]);
    let a1 = h.association(d1, "一丁目", 100);
    h.post(
        Tier::Association,
        Some(&a1.0),
        &[],
        mid(current().plus(-2)),
        false,
    );
    snapshot(&app, &s.staff, json!({})).await;
    let frozen = current().plus(-2);
    let before_frozen = adoption(&app, &s.staff, frozen).await;
    let before_now = adoption(&app, &s.staff, current()).await;
    assert!(listed(&before_frozen, d3) && listed(&before_now, d3));

    let renamed = expect_json(
        app.patch_as(
            &s.staff,
            &format!("/api/v1/districts/{d3}"),
            &json!({"name": "  新校下  ", "name_kana": "しんこうか"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(renamed["district"]["name"], "新校下");
    assert_eq!(renamed["district"]["name_kana"], "しんこうか");
    let now_figures = adoption(&app, &s.staff, current()).await;
    assert_eq!(district(&now_figures, d3)["name"], "新校下");
    assert_eq!(
        figures_of(&adoption(&app, &s.staff, frozen).await),
        figures_of(&before_frozen)
    );

    expect_json(
        app.post_as(
            &s.admin,
            &format!("/api/v1/districts/{d3}/archive"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let archived_now = adoption(&app, &s.staff, current()).await;
    assert!(!listed(&archived_now, d3));
    assert_eq!(
        archived_now["districts_counted"].as_i64().unwrap(),
        before_now["districts_counted"].as_i64().unwrap() - 1
    );
    let still_frozen = adoption(&app, &s.staff, frozen).await;
    assert!(
        listed(&still_frozen, d3),
        "a frozen month keeps its districts"
    );
    assert_eq!(figures_of(&still_frozen), figures_of(&before_frozen));
    assert!(
        district_list(&app, &s.staff)
            .await
            .iter()
            .all(|d| d["id"] != d3.as_str())
    );

    let restored = expect_json(
        app.post_as(
            &s.staff,
            &format!("/api/v1/districts/{d3}/restore"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(restored["district"]["archived"], false);
    assert!(listed(&adoption(&app, &s.staff, current()).await, d3));
    let kinds: Vec<Value> = history(&app, &s.staff, d3)
        .await
        .into_iter()
        .map(|c| c["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("renamed"), json!("archived"), json!("restored")]
    );
    let renaming = &history(&app, &s.staff, d3).await[0];
    assert_eq!(renaming["detail"]["after"]["name"], "新校下", "{renaming}");
    assert_eq!(
        audit_actions(&app, d3),
        vec!["district_renamed", "district_archived", "district_restored"]
    );
}

#[tokio::test]
async fn bad_corrections_get_clear_errors_and_change_nothing() {
    let app = spawn_app().await;
    let s = staff(&app).await;
    let h = History::new(&app, &s.admin);
    let (d1, d2, d3) = (&s.districts[0], &s.districts[1], &s.districts[2]);
    h.association(d1, "一丁目", 100);
    expect_json(
        app.post_as(
            &s.staff,
            &format!("/api/v1/districts/{d3}/archive"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let list_before = district_list(&app, &s.staff).await;
    let unknown = kairan::domain::new_id();
    let cases: Vec<(Method, String, Value, u16, &str)> = vec![
        (
            Method::POST,
            format!("{d1}/merge"),
            json!({"into": d1}),
            422,
            "merge_into_itself",
        ),
        (
            Method::POST,
            format!("{d1}/merge"),
            json!({"into": d3}),
            409,
            "district_archived",
        ),
        (
            Method::POST,
            format!("{d1}/merge"),
            json!({"into": unknown}),
            422,
            "unknown_district",
        ),
        (
            Method::POST,
            format!("{d3}/merge"),
            json!({"into": d1}),
            409,
            "district_archived",
        ),
        (
            Method::POST,
            format!("{unknown}/merge"),
            json!({"into": d1}),
            404,
            "not_found",
        ),
        (
            Method::POST,
            format!("{d1}/merge"),
            json!({}),
            422,
            "invalid_field",
        ),
        (
            Method::PATCH,
            d2.to_string(),
            json!({"name": "  "}),
            422,
            "invalid_input",
        ),
        (
            Method::PATCH,
            d2.to_string(),
            json!({"name": "校".repeat(101)}),
            422,
            "invalid_input",
        ),
        (
            Method::PATCH,
            d2.to_string(),
            json!({}),
            422,
            "invalid_input",
        ),
        (
            Method::PATCH,
            d2.to_string(),
            json!({"code": "X"}),
            422,
            "invalid_field",
        ),
        (
            Method::PATCH,
            unknown.clone(),
            json!({"name": "幻"}),
            404,
            "not_found",
        ),
        (
            Method::POST,
            format!("{d1}/archive"),
            json!({}),
            409,
            "district_not_empty",
        ),
        (
            Method::POST,
            format!("{d3}/archive"),
            json!({}),
            409,
            "district_archived",
        ),
        (
            Method::POST,
            format!("{d2}/restore"),
            json!({}),
            409,
            "district_not_archived",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let path = format!("/api/v1/districts/{path}");
        let response = app
            .send_as(method.clone(), Some(&s.staff), &path, Some(&body))
            .await;
        assert_eq!(response.status().as_u16(), status, "{method} {path} {body}");
        assert_eq!(error_code(response).await, code, "{method} {path} {body}");
    }
    assert_eq!(district_list(&app, &s.staff).await, list_before);
    for d in [d1, d2] {
        assert!(history(&app, &s.staff, d).await.is_empty());
    }
    assert_eq!(
        history(&app, &s.staff, d3).await.len(),
        1,
        "only the archive"
    );
}

#[tokio::test]
async fn city_staff_correct_the_list_on_the_city_districts_page() {
    let app = spawn_app().await;
    let city = crate::fixtures::City::build(&app).await;
    let page = "/city/districts";
    let mut resident = signed_in(&app, &city.resident_h1).await;
    assert_eq!(resident.get(&app, page).await.0.status, 403);
    let mut staff = signed_in(&app, &city.staff).await;
    let (answer, body) = staff.get(&app, "/city").await;
    assert_eq!(answer.status, 200);
    assert!(
        body.contains("href=\"/city/districts\""),
        "linked from /city"
    );
    let (answer, body) = staff.get(&app, page).await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("<h1>校下の一覧の訂正</h1>"), "{body}");
    let (d1, d2) = (city.district_1.as_str(), city.district_2.as_str());

    // No token, no change.
    let forged = staff
        .post(
            &app,
            "/city/districts/rename",
            &[("district", d2), ("name", "偽名")],
        )
        .await;
    assert_eq!(forged.status(), 400);
    let (status, _) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/rename",
        &[("district", d2), ("name", "新しい校下"), ("name_kana", "")],
    )
    .await;
    assert_eq!(status, 303);
    let (_, body) = staff.get(&app, "/city/districts?done=1").await;
    assert!(
        body.contains("変更しました。") && body.contains("新しい校下"),
        "{body}"
    );

    // Refusals are explained beside their form, and change nothing.
    let (status, body) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/merge",
        &[("district", d1), ("into", d1)],
    )
    .await;
    assert_eq!(status, 422);
    let message = "同じ校下に統合することはできません。別の統合先を選んでください。";
    assert!(beside(&body, "merge-into", message), "{body}");
    assert!(summarised(&body, "merge-into", message));
    assert!(body.contains(&format!(r#"<option value="{d1}" selected>"#)));
    let (status, body) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/archive",
        &[("district", d1)],
    )
    .await;
    assert_eq!(status, 409);
    let message = "町会が残っている校下は廃止できません。統合してください。";
    assert!(beside(&body, "archive-district", message), "{body}");
    assert!(summarised(&body, "archive-district", message));
    let (status, body) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/rename",
        &[("district", d2), ("name", " "), ("name_kana", "あたらしい")],
    )
    .await;
    assert_eq!(status, 422);
    let message = "新しい名前を入力してください。";
    assert!(beside(&body, "rename-name", message), "{body}");
    assert!(summarised(&body, "rename-name", message));
    assert!(body.contains(r#"aria-invalid="true" aria-describedby="rename-name-error""#));
    assert!(
        body.contains(r#"value="あたらしい""#),
        "the reading is kept"
    );
    assert!(body.contains(&format!(r#"<option value="{d2}" selected>"#)));

    // A merge, then the merged-away district comes back from the restore form.
    let (status, _) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/merge",
        &[("district", d2), ("into", d1)],
    )
    .await;
    assert_eq!(status, 303);
    let association_c = expect_json(
        app.get_as(
            &city.staff,
            &format!("/api/v1/associations/{}", city.association_c),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(association_c["district_id"], d1);
    let (status, _) = submit(
        &app,
        &mut staff,
        page,
        "/city/districts/restore",
        &[("district", d2)],
    )
    .await;
    assert_eq!(status, 303);
    let kinds: Vec<Value> = history(&app, &city.staff, d2)
        .await
        .into_iter()
        .map(|c| c["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![json!("renamed"), json!("merged"), json!("restored")]
    );
}

pub(crate) async fn inbox_titles(app: &TestApp, who: &Actor) -> Vec<String> {
    let inbox = expect_json(app.get_as(who, "/api/v1/me/inbox?limit=100").await, 200).await;
    inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn after_a_merge_members_keep_their_old_district_circulars_and_its_officers_end() {
    use crate::calendar::{at_ten_jst, calendar_titles, day, post_event, rfc3339};
    let app = spawn_app().await;
    let city = crate::fixtures::City::build(&app).await;
    let (d1, d2) = (&city.district_1, &city.district_2);
    let event = json!({"starts_at": rfc3339(at_ten_jst(2))});
    let old = post_event(
        &app,
        &city.district_officer,
        json!({"kind": "district", "id": d1}),
        &[],
        "旧校下の運動会",
        event.clone(),
    )
    .await;
    post_event(
        &app,
        &city.staff,
        json!({"kind": "district", "id": d2}),
        &[],
        "新校下の清掃",
        event.clone(),
    )
    .await;
    let receipts_path = format!("/api/v1/posts/{old}/receipts");
    let before = expect_json(app.get_as(&city.staff, &receipts_path).await, 200).await;
    // Warm the inbox cache, so the merge must drop it.
    assert!(
        inbox_titles(&app, &city.resident_h1)
            .await
            .contains(&"旧校下の運動会".to_string())
    );

    let merged = expect_json(
        app.post_as(
            &city.staff,
            &format!("/api/v1/districts/{d1}/merge"),
            &json!({"into": d2}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(merged["moved_associations"], 2, "{merged}");
    assert_eq!(
        merged["ended_roles"],
        json!([{"member_id": city.district_officer.id, "role": "district_officer"}])
    );

    // A moved member still reads (and confirms) the old district's circular, in the inbox
    // and the calendar, and reads the new district's.
    let (from, to) = (day(0), day(5));
    for who in [&city.resident_h1, &city.officer_a] {
        let inbox = inbox_titles(&app, who).await;
        assert!(inbox.contains(&"旧校下の運動会".to_string()), "{inbox:?}");
        assert!(inbox.contains(&"新校下の清掃".to_string()), "{inbox:?}");
        let calendar = calendar_titles(&app, who, &from, &to).await;
        assert!(
            calendar.contains(&"旧校下の運動会".to_string()),
            "{calendar:?}"
        );
    }
    let read = app
        .get_as(&city.resident_h1, &format!("/api/v1/posts/{old}"))
        .await;
    assert_eq!(read.status(), 200);
    let marked = app
        .post_as(
            &city.resident_h1,
            &format!("/api/v1/posts/{old}/read"),
            &json!({}),
        )
        .await;
    assert_eq!(marked.status(), 204);
    // Its receipts still count the households it reached, not the new district's.
    let after = expect_json(app.get_as(&city.staff, &receipts_path).await, 200).await;
    assert_eq!(after["households"], before["households"], "{after}");
    assert_eq!(after["read"], 1, "{after}");
    // The surviving district's own members do not start reading the old district's.
    let inbox = inbox_titles(&app, &city.officer_c).await;
    assert!(!inbox.contains(&"旧校下の運動会".to_string()), "{inbox:?}");
    assert!(inbox.contains(&"新校下の清掃".to_string()), "{inbox:?}");
    let calendar = calendar_titles(&app, &city.officer_c, &from, &to).await;
    assert!(
        !calendar.contains(&"旧校下の運動会".to_string()),
        "{calendar:?}"
    );
    let hidden = app
        .get_as(&city.officer_c, &format!("/api/v1/posts/{old}"))
        .await;
    assert_eq!(hidden.status(), 404);

    // The archived district takes no new circulars, and its officer's role has ended.
    let body = json!({"scope": {"kind": "district", "id": d1}, "title": "後から", "body": "本文"});
    for who in [&city.staff, &city.district_officer] {
        let refused = app.post_as(who, "/api/v1/posts", &body).await;
        assert_eq!(refused.status(), 409);
        assert_eq!(error_code(refused).await, "district_archived");
    }
    let to_new =
        json!({"scope": {"kind": "district", "id": d2}, "title": "後から", "body": "本文"});
    let refused = app
        .post_as(&city.district_officer, "/api/v1/posts", &to_new)
        .await;
    assert_eq!(refused.status(), 403);
    let me = app.me(&city.district_officer).await;
    assert!(!me.to_string().contains("district_officer"), "{me}");
    let changes = history(&app, &city.staff, d1).await;
    assert_eq!(changes[0]["detail"]["ended_roles"], merged["ended_roles"]);
    let detail: String = {
        use diesel::prelude::*;
        use kairan::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::target_id.eq(d1))
            .select(audit_log::detail)
            .first(&mut app.db.get().unwrap())
            .unwrap()
    };
    assert!(detail.contains(&city.district_officer.id), "{detail}");
}

#[tokio::test]
async fn archiving_a_district_ends_the_roles_held_for_it() {
    let app = spawn_app().await;
    let city = crate::fixtures::City::build(&app).await;
    let list = district_list(&app, &city.staff).await;
    let empty = list[2]["id"].as_str().unwrap().to_string();
    let appointed = app
        .post_as(
            &city.staff,
            &format!("/api/v1/districts/{empty}/officers"),
            &json!({"member_id": city.district_officer.id}),
        )
        .await;
    assert!(appointed.status().is_success(), "{}", appointed.status());
    let body = json!({"scope": {"kind": "district", "id": empty}, "title": "前に", "body": "本文"});
    let before = app
        .post_as(&city.district_officer, "/api/v1/posts", &body)
        .await;
    assert_eq!(before.status(), 201);

    let archived = expect_json(
        app.post_as(
            &city.staff,
            &format!("/api/v1/districts/{empty}/archive"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        archived["ended_roles"],
        json!([{"member_id": city.district_officer.id, "role": "district_officer"}])
    );
    let after = app
        .post_as(&city.district_officer, "/api/v1/posts", &body)
        .await;
    assert_eq!(after.status(), 409);
    assert_eq!(error_code(after).await, "district_archived");
    // Restored, the district has no officer until one is appointed again.
    app.post_as(
        &city.staff,
        &format!("/api/v1/districts/{empty}/restore"),
        &json!({}),
    )
    .await;
    let refused = app
        .post_as(&city.district_officer, "/api/v1/posts", &body)
        .await;
    assert_eq!(refused.status(), 403);
    // The officer of the other district keeps that role.
    let d1 = json!({"scope": {"kind": "district", "id": city.district_1}, "title": "自校下", "body": "本文"});
    let kept = app
        .post_as(&city.district_officer, "/api/v1/posts", &d1)
        .await;
    assert_eq!(kept.status(), 201);
}
