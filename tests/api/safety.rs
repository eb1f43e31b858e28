//! Safety checks (安否確認): who a check reaches, answering (for a household too), changing
//! an answer, closing, what each viewer of the status may see, reminders, bad input.

use diesel::prelude::*;
use kairan::db::schema::{safety_answer_history, safety_answers};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};
use crate::push_service::{Browser, PushService};

async fn start(app: &TestApp, by: &Actor, body: Value) -> String {
    let created = expect_json(app.post_as(by, "/api/v1/safety-checks", &body).await, 201).await;
    assert_eq!(created["status"], "open", "{created}");
    str_field(&created, "id")
}

async fn start_for_association(app: &TestApp, by: &Actor, association: &str) -> String {
    start(
        app,
        by,
        json!({"scope": {"kind": "association", "id": association},
               "message": "地震がありました。ご無事ですか。"}),
    )
    .await
}

async fn answer(app: &TestApp, by: &Actor, check: &str, body: Value) -> reqwest::Response {
    app.post_as(by, &format!("/api/v1/safety-checks/{check}/answers"), &body)
        .await
}

async fn answer_ok(app: &TestApp, by: &Actor, check: &str, body: Value) {
    expect_json(answer(app, by, check, body).await, 204).await;
}

async fn status(app: &TestApp, by: &Actor, check: &str) -> Value {
    expect_json(
        app.get_as(by, &format!("/api/v1/safety-checks/{check}/status"))
            .await,
        200,
    )
    .await
}

async fn listed(app: &TestApp, by: &Actor) -> Vec<Value> {
    let list = expect_json(app.get_as(by, "/api/v1/safety-checks").await, 200).await;
    list["items"].as_array().unwrap().clone()
}

fn ids_of(rows: &Value) -> Vec<String> {
    let mut ids: Vec<String> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| str_field(r, "household_id"))
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

fn stored_answers(app: &TestApp) -> (i64, i64) {
    let conn = &mut *app.db.get().unwrap();
    let current = safety_answers::table.count().get_result(conn).unwrap();
    let history = safety_answer_history::table
        .count()
        .get_result(conn)
        .unwrap();
    (current, history)
}

#[tokio::test]
async fn a_check_reaches_exactly_its_scope() {
    let app = spawn_app().await;
    let city = City::build(&app).await;

    // Han-scoped: the three households of 一班.
    let han_check = start(
        &app,
        &city.officer_a,
        json!({"scope": {"kind": "association", "id": city.association_a},
               "han_ids": [city.han_h1], "message": "一班の皆さん、ご無事ですか"}),
    )
    .await;
    let s = status(&app, &city.officer_a, &han_check).await;
    assert_eq!(s["households"], 3, "{s}");
    assert_eq!(
        ids_of(&s["unanswered"]),
        sorted(&[
            &city.household_h1_leader,
            &city.household_h1_resident,
            &city.household_h1_paper
        ])
    );
    assert!(
        listed(&app, &city.resident_h1)
            .await
            .iter()
            .any(|c| c["id"] == han_check.as_str())
    );
    assert!(
        !listed(&app, &city.resident_h2)
            .await
            .iter()
            .any(|c| c["id"] == han_check.as_str())
    );
    let refused = answer(
        &app,
        &city.resident_h2,
        &han_check,
        json!({"status": "safe"}),
    )
    .await;
    assert_eq!(refused.status(), 404);
    assert_eq!(error_code(refused).await, "not_found");
    answer_ok(
        &app,
        &city.resident_h1,
        &han_check,
        json!({"status": "safe"}),
    )
    .await;

    // District 1: association A (6 households) and B (2), not C.
    let district_check = start(
        &app,
        &city.district_officer,
        json!({"scope": {"kind": "district", "id": city.district_1}, "message": "校下の安否確認"}),
    )
    .await;
    let s = status(&app, &city.district_officer, &district_check).await;
    assert_eq!(s["grouped_by"], "association");
    assert_eq!(s["households"], 8, "{s}");
    let mut per_association: Vec<(String, i64)> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (str_field(g, "id"), g["households"].as_i64().unwrap()))
        .collect();
    per_association.sort();
    let mut expected = vec![
        (city.association_a.clone(), 6),
        (city.association_b.clone(), 2),
    ];
    expected.sort();
    assert_eq!(per_association, expected);
    assert_eq!(
        app.get_as(
            &city.officer_c,
            &format!("/api/v1/safety-checks/{district_check}")
        )
        .await
        .status(),
        404
    );
    assert!(
        !listed(&app, &city.officer_c)
            .await
            .iter()
            .any(|c| c["id"] == district_check.as_str())
    );

    // The city: every household, per district.
    let city_check = start(
        &app,
        &city.staff,
        json!({"scope": {"kind": "city"}, "message": "市内全域の安否確認"}),
    )
    .await;
    let s = status(&app, &city.staff, &city_check).await;
    assert_eq!(s["grouped_by"], "district");
    assert_eq!(s["households"], 9, "{s}");
    let mut per_district: Vec<(String, i64)> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (str_field(g, "id"), g["households"].as_i64().unwrap()))
        .collect();
    per_district.sort();
    let mut expected = vec![(city.district_1.clone(), 8), (city.district_2.clone(), 1)];
    expected.sort();
    assert_eq!(per_district, expected);
    for resident in [&city.resident_h1, &city.resident_h2, &city.officer_c] {
        assert!(
            listed(&app, resident)
                .await
                .iter()
                .any(|c| c["id"] == city_check.as_str())
        );
    }
    // A member without a household is in no audience.
    assert!(listed(&app, &city.no_household).await.is_empty());

    // Association B's check does not reach A.
    let b_check = start_for_association(&app, &city.officer_b, &city.association_b).await;
    assert_eq!(
        app.get_as(
            &city.resident_h1,
            &format!("/api/v1/safety-checks/{b_check}")
        )
        .await
        .status(),
        404
    );
    assert_eq!(
        status(&app, &city.officer_b, &b_check).await["households"],
        2
    );
}

#[tokio::test]
async fn the_check_goes_out_as_an_urgent_push_that_ignores_muted_categories() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let h1 = Browser::new(&service, "ok", "h1");
    let h2 = Browser::new(&service, "ok", "h2");
    let c = Browser::new(&service, "ok", "c");
    for (actor, browser) in [
        (&city.resident_h1, &h1),
        (&city.resident_h2, &h2),
        (&city.officer_c, &c),
    ] {
        expect_json(
            app.post_as(actor, "/api/v1/push/subscriptions", &browser.subscription())
                .await,
            201,
        )
        .await;
    }
    // H1 muted every category.
    expect_json(
        app.send_as(
            reqwest::Method::PUT,
            Some(&city.resident_h1),
            "/api/v1/me/notification-preferences",
            Some(
                &json!({"muted_categories": ["notice", "event", "disaster", "garbage",
                                               "recruitment", "survey", "other"]}),
            ),
        )
        .await,
        200,
    )
    .await;

    let created = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/safety-checks",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "message": "地震がありました。ご無事ですか。"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["deliveries"], 2, "{created}");
    assert_eq!(app.push.drain().await.unwrap(), 2);
    for browser in [&h1, &h2] {
        let received = service.received_by(browser);
        assert_eq!(received.len(), 1);
        assert_eq!(received[0].header("urgency"), Some("high"));
        let payload = browser.decrypt(&received[0].body);
        assert_eq!(payload["type"], "safety_check", "{payload}");
        assert_eq!(payload["safety_check_id"], created["id"], "{payload}");
        assert_eq!(payload["priority"], "urgent", "{payload}");
    }
    assert!(service.received_by(&c).is_empty(), "C is not in A");
}

#[tokio::test]
async fn members_answer_change_their_answer_and_officers_keep_the_history() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;

    // か + combining dakuten: stored as one code point (NFC).
    answer_ok(
        &app,
        &city.resident_h1,
        &check,
        json!({"status": "needs_help", "note": "  足を怪我しました。か\u{3099}れきで出られません "}),
    )
    .await;
    let mine = expect_json(
        app.get_as(&city.resident_h1, &format!("/api/v1/safety-checks/{check}"))
            .await,
        200,
    )
    .await;
    assert_eq!(mine["answer"]["status"], "needs_help", "{mine}");
    assert_eq!(
        mine["answer"]["note"],
        "足を怪我しました。がれきで出られません"
    );
    assert_eq!(mine["answer"]["on_behalf"], false);
    // Another household's member sees no answer of H1's.
    let other = expect_json(
        app.get_as(&city.resident_h2, &format!("/api/v1/safety-checks/{check}"))
            .await,
        200,
    )
    .await;
    assert!(other["answer"].is_null(), "{other}");

    let s = status(&app, &city.officer_a, &check).await;
    assert_eq!(ids_of(&s["help"]), vec![city.household_h1_resident.clone()]);
    assert_eq!(
        s["help"][0]["answered_by"],
        city.resident_h1.display_name.as_str()
    );

    // A second member of the same household changes the answer.
    let spouse = app
        .new_resident(
            &city.officer_a,
            &city.association_a,
            Some(&city.household_h1_resident),
            "spouse.h1@kairan.test",
            "住民四郎の妻",
        )
        .await;
    answer_ok(&app, &spouse, &check, json!({"status": "safe"})).await;
    let mine = expect_json(
        app.get_as(&city.resident_h1, &format!("/api/v1/safety-checks/{check}"))
            .await,
        200,
    )
    .await;
    assert_eq!(mine["answer"]["status"], "safe", "{mine}");
    assert!(mine["answer"]["note"].is_null(), "{mine}");

    let s = status(&app, &city.officer_a, &check).await;
    assert_eq!(
        (
            s["answered"].clone(),
            s["safe"].clone(),
            s["needs_help"].clone()
        ),
        (json!(1), json!(1), json!(0))
    );
    assert!(s["help"].as_array().unwrap().is_empty());
    // The withdrawn call for help is not silently lost.
    assert_eq!(
        ids_of(&s["help_withdrawn"]),
        vec![city.household_h1_resident.clone()]
    );
    let history = expect_json(
        app.get_as(
            &city.officer_a,
            &format!(
                "/api/v1/safety-checks/{check}/households/{}/answers",
                city.household_h1_resident
            ),
        )
        .await,
        200,
    )
    .await;
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{history}");
    assert_eq!(items[0]["status"], "needs_help");
    assert_eq!(
        items[0]["answered_by"],
        city.resident_h1.display_name.as_str()
    );
    assert_eq!(items[1]["status"], "safe");
    assert_eq!(items[1]["answered_by"], "住民四郎の妻");
    assert_eq!(stored_answers(&app), (1, 2));
}

#[tokio::test]
async fn officers_and_the_han_leader_answer_for_households_they_visit() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;

    answer_ok(
        &app,
        &city.han_leader_h1,
        &check,
        json!({"status": "needs_help", "household_id": city.household_h1_paper,
               "note": "訪問: 薬が必要"}),
    )
    .await;
    answer_ok(
        &app,
        &city.officer_a,
        &check,
        json!({"status": "safe", "household_id": city.household_h2_resident}),
    )
    .await;

    // Not theirs to answer for: all 404, nothing stored.
    for (who, household) in [
        (&city.han_leader_h1, &city.household_h2_resident),
        (&city.officer_b, &city.household_h1_paper),
        (&city.resident_h2, &city.household_h1_resident),
        (&city.officer_a, &city.household_b),
        (&city.district_officer, &city.household_h1_resident),
        (&city.staff, &city.household_h1_resident),
    ] {
        let refused = answer(
            &app,
            who,
            &check,
            json!({"status": "safe", "household_id": household}),
        )
        .await;
        assert_eq!(refused.status(), 404, "{} for {household}", who.login);
        assert_eq!(error_code(refused).await, "not_found");
    }
    let unknown = answer(
        &app,
        &city.officer_a,
        &check,
        json!({"status": "safe", "household_id": kairan::domain::new_id()}),
    )
    .await;
    assert_eq!(unknown.status(), 404);

    // A household of A outside a han-scoped check: a clear 422.
    let han_check = start(
        &app,
        &city.officer_a,
        json!({"scope": {"kind": "association", "id": city.association_a},
               "han_ids": [city.han_h1], "message": "一班の確認"}),
    )
    .await;
    let outside = answer(
        &app,
        &city.officer_a,
        &han_check,
        json!({"status": "safe", "household_id": city.household_h2_resident}),
    )
    .await;
    assert_eq!(outside.status(), 422);
    assert_eq!(error_code(outside).await, "household_not_in_audience");

    let s = status(&app, &city.officer_a, &check).await;
    assert_eq!(s["answered"], 2, "{s}");
    assert_eq!(s["help"].as_array().unwrap().len(), 1, "{s}");
    let help = &s["help"][0];
    assert_eq!(help["household_id"], city.household_h1_paper.as_str());
    assert_eq!(help["on_behalf"], true);
    assert_eq!(help["paper"], true);
    assert_eq!(
        help["answered_by"],
        city.han_leader_h1.display_name.as_str()
    );
    assert_eq!(help["note"], "訪問: 薬が必要");
    // Help first among the hans.
    assert_eq!(s["groups"][0]["id"], city.han_h1.as_str(), "{s}");
    assert_eq!(s["groups"][0]["needs_help"], 1);
    assert_eq!(stored_answers(&app), (2, 2));

    // The 班長 sees only their han.
    let s = status(&app, &city.han_leader_h1, &check).await;
    assert_eq!(s["households"], 3, "{s}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_stores_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;
    let path = format!("/api/v1/safety-checks/{check}/answers");

    for (body, code) in [
        (json!({"status": "maybe"}), "invalid_field"),
        (json!({"status": 1}), "invalid_field"),
        (json!({}), "invalid_field"),
        (json!({"status": "safe", "note": 5}), "invalid_field"),
        (
            json!({"status": "safe", "household_id": 5}),
            "invalid_field",
        ),
        (json!({"status": "safe", "colour": "red"}), "invalid_field"),
        (
            json!({"status": "needs_help", "note": "あ".repeat(501)}),
            "invalid_input",
        ),
    ] {
        let refused = app.post_as(&city.resident_h1, &path, &body).await;
        assert_eq!(refused.status(), 422, "{body}");
        assert_eq!(error_code(refused).await, code, "{body}");
    }
    let malformed = app
        .client
        .post(app.url(&path))
        .bearer_auth(&city.resident_h1.access_token)
        .header("content-type", "application/json")
        .body("{\"status\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    assert_eq!(error_code(malformed).await, "malformed_json");
    let unknown = answer(
        &app,
        &city.resident_h1,
        &kairan::domain::new_id(),
        json!({"status": "safe"}),
    )
    .await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(error_code(unknown).await, "not_found");
    assert_eq!(stored_answers(&app), (0, 0));

    // 500 characters are fine.
    answer_ok(
        &app,
        &city.resident_h1,
        &check,
        json!({"status": "needs_help", "note": "あ".repeat(500)}),
    )
    .await;
    assert_eq!(stored_answers(&app), (1, 1));

    // Starting a check.
    let a_scope = json!({"kind": "association", "id": city.association_a});
    for (who, body, status, code) in [
        (
            &city.officer_a,
            json!({"scope": a_scope, "message": "  "}),
            422,
            "invalid_input",
        ),
        (
            &city.officer_a,
            json!({"scope": a_scope, "message": "あ".repeat(1001)}),
            422,
            "invalid_input",
        ),
        (
            &city.officer_a,
            json!({"scope": {"kind": "town", "id": city.association_a}, "message": "x"}),
            422,
            "invalid_field",
        ),
        (
            &city.district_officer,
            json!({"scope": {"kind": "district", "id": city.district_1},
                   "han_ids": [city.han_h1], "message": "x"}),
            422,
            "invalid_input",
        ),
        (
            &city.staff,
            json!({"scope": {"kind": "association", "id": kairan::domain::new_id()}, "message": "x"}),
            422,
            "unknown_scope",
        ),
        (
            &city.resident_h1,
            json!({"scope": a_scope, "message": "x"}),
            403,
            "forbidden",
        ),
        (
            &city.officer_a,
            json!({"scope": {"kind": "association", "id": city.association_b}, "message": "x"}),
            403,
            "forbidden",
        ),
        (
            &city.district_officer,
            json!({"scope": {"kind": "district", "id": city.district_2}, "message": "x"}),
            403,
            "forbidden",
        ),
        (
            &city.officer_a,
            json!({"scope": {"kind": "city"}, "message": "x"}),
            403,
            "forbidden",
        ),
    ] {
        let refused = app.post_as(who, "/api/v1/safety-checks", &body).await;
        assert_eq!(refused.status(), status, "{body}");
        assert_eq!(error_code(refused).await, code, "{body}");
    }
    assert_eq!(listed(&app, &city.officer_a).await.len(), 1);
}

#[tokio::test]
async fn a_closed_check_keeps_its_record_and_refuses_answers() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;
    answer_ok(&app, &city.resident_h1, &check, json!({"status": "safe"})).await;
    let close = format!("/api/v1/safety-checks/{check}/close");

    for (who, status) in [
        (&city.resident_h2, 403),
        (&city.chair_a, 403),
        (&city.staff, 403),
        (&city.officer_c, 404),
    ] {
        let refused = app.post_as(who, &close, &json!({})).await;
        assert_eq!(refused.status(), status, "{}", who.login);
    }
    expect_json(app.post_as(&city.officer_a, &close, &json!({})).await, 204).await;
    let again = app.post_as(&city.officer_a, &close, &json!({})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "safety_check_closed");

    let late = answer(
        &app,
        &city.resident_h2,
        &check,
        json!({"status": "needs_help"}),
    )
    .await;
    assert_eq!(late.status(), 409);
    assert_eq!(error_code(late).await, "safety_check_closed");
    let late = answer(
        &app,
        &city.resident_h1,
        &check,
        json!({"status": "needs_help"}),
    )
    .await;
    assert_eq!(late.status(), 409);
    let reminder = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/safety-checks/{check}/reminders"),
            &json!({}),
        )
        .await;
    assert_eq!(reminder.status(), 409);

    let s = status(&app, &city.officer_a, &check).await;
    assert_eq!(s["status"], "closed");
    assert_eq!(
        (s["answered"].clone(), s["safe"].clone()),
        (json!(1), json!(1))
    );
    let mine = listed(&app, &city.resident_h1).await;
    let item = mine.iter().find(|c| c["id"] == check.as_str()).unwrap();
    assert_eq!(item["status"], "closed");
    assert_eq!(item["answer"]["status"], "safe");
    assert_eq!(stored_answers(&app), (1, 1));

    // Open checks are listed first; an admin may close anyone's check.
    let first_open = start_for_association(&app, &city.officer_a, &city.association_a).await;
    let second_open = start_for_association(&app, &city.chair_a, &city.association_a).await;
    let mine = listed(&app, &city.resident_h1).await;
    let order: Vec<&str> = mine.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        vec![second_open.as_str(), first_open.as_str(), check.as_str()]
    );
    expect_json(
        app.post_as(
            &city.admin,
            &format!("/api/v1/safety-checks/{first_open}/close"),
            &json!({}),
        )
        .await,
        204,
    )
    .await;
}

#[tokio::test]
async fn viewers_see_only_what_their_role_allows() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start(
        &app,
        &city.staff,
        json!({"scope": {"kind": "city"}, "message": "市内全域の安否確認"}),
    )
    .await;
    let note = "二階の寝室に取り残されています";
    answer_ok(
        &app,
        &city.resident_h1,
        &check,
        json!({"status": "needs_help", "note": note}),
    )
    .await;
    answer_ok(
        &app,
        &city.district_officer,
        &check,
        json!({"status": "needs_help", "note": note}),
    )
    .await;
    answer_ok(&app, &city.officer_c, &check, json!({"status": "safe"})).await;

    let mut secrets = city.personal_data();
    secrets.push(note.to_string());
    secrets.extend(
        [
            &city.household_h1_leader,
            &city.household_h1_resident,
            &city.household_h1_paper,
            &city.household_h2_resident,
            &city.household_b,
        ]
        .map(|h| h.to_string()),
    );
    let no_secrets = |who: &str, text: &str| {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{who} sees {secret}: {text}"
            );
        }
    };

    // City staff: counts per district, nothing else.
    let s = status(&app, &city.staff, &check).await;
    no_secrets("city staff", &s.to_string());
    assert_eq!(
        (
            s["households"].clone(),
            s["answered"].clone(),
            s["needs_help"].clone()
        ),
        (json!(9), json!(3), json!(2))
    );
    assert!(s["unanswered"].as_array().unwrap().is_empty());
    assert!(s["help"].as_array().unwrap().is_empty());
    assert!(
        s["groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| g["name"].is_string())
    );
    let got = expect_json(
        app.get_as(&city.staff, &format!("/api/v1/safety-checks/{check}"))
            .await,
        200,
    )
    .await;
    no_secrets("city staff", &got.to_string());

    // The district officer: counts per association of district 1.
    let s = status(&app, &city.district_officer, &check).await;
    no_secrets("district officer", &s.to_string());
    assert_eq!(
        (s["households"].clone(), s["needs_help"].clone()),
        (json!(8), json!(2))
    );
    assert_eq!(s["groups"][0]["needs_help"], 1);

    // Officers: their own association's households only.
    let s = status(&app, &city.officer_b, &check).await;
    assert_eq!(s["households"], 2, "{s}");
    assert_eq!(ids_of(&s["help"]), vec![city.household_b.clone()]);
    let text = s.to_string();
    for a_data in [&city.household_h1_resident, &city.labels_a[1]] {
        assert!(
            !text.contains(a_data.as_str()),
            "B sees A's {a_data}: {text}"
        );
    }
    let s = status(&app, &city.officer_c, &check).await;
    assert_eq!(
        (s["households"].clone(), s["safe"].clone()),
        (json!(1), json!(1))
    );
    assert!(!s.to_string().contains(note));

    // Residents follow no status; another association's history is unseen.
    for who in [&city.resident_h1, &city.no_household] {
        let refused = app
            .get_as(who, &format!("/api/v1/safety-checks/{check}/status"))
            .await;
        assert_eq!(refused.status(), 404);
    }
    let refused = app
        .get_as(
            &city.officer_b,
            &format!(
                "/api/v1/safety-checks/{check}/households/{}/answers",
                city.household_h1_resident
            ),
        )
        .await;
    assert_eq!(refused.status(), 404);
    assert_eq!(error_code(refused).await, "not_found");
    let unknown = app
        .get_as(
            &city.staff,
            &format!("/api/v1/safety-checks/{}/status", kairan::domain::new_id()),
        )
        .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_reminder_reaches_only_households_that_have_not_answered() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let service = PushService::start().await;
    let h1 = Browser::new(&service, "ok", "h1");
    let h2 = Browser::new(&service, "ok", "h2");
    let leader = Browser::new(&service, "ok", "leader");
    for (actor, browser) in [
        (&city.resident_h1, &h1),
        (&city.resident_h2, &h2),
        (&city.han_leader_h1, &leader),
    ] {
        expect_json(
            app.post_as(actor, "/api/v1/push/subscriptions", &browser.subscription())
                .await,
            201,
        )
        .await;
    }
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;
    assert_eq!(app.push.drain().await.unwrap(), 3);
    answer_ok(&app, &city.resident_h1, &check, json!({"status": "safe"})).await;

    let remind = format!("/api/v1/safety-checks/{check}/reminders");
    let reminded = expect_json(app.post_as(&city.officer_a, &remind, &json!({})).await, 202).await;
    // Six households in A, one answered.
    assert_eq!(reminded, json!({"households": 5, "deliveries": 2}));
    assert_eq!(app.push.drain().await.unwrap(), 2);
    assert_eq!(
        service.received_by(&h1).len(),
        1,
        "H1 answered: no reminder"
    );
    for browser in [&h2, &leader] {
        let received = service.received_by(browser);
        assert_eq!(received.len(), 2);
        let reminder = browser.decrypt(&received[1].body);
        assert_eq!(reminder["type"], "safety_reminder", "{reminder}");
        assert_eq!(reminder["safety_check_id"], check.as_str());
        assert_eq!(received[1].header("urgency"), Some("high"));
    }

    // The 班長 reminds only their han's unanswered: their own and the paper household.
    answer_ok(&app, &city.resident_h2, &check, json!({"status": "safe"})).await;
    let reminded = expect_json(
        app.post_as(&city.han_leader_h1, &remind, &json!({})).await,
        202,
    )
    .await;
    assert_eq!(reminded, json!({"households": 2, "deliveries": 1}));
    assert_eq!(app.push.drain().await.unwrap(), 1);
    assert_eq!(service.received_by(&leader).len(), 3);
    assert_eq!(service.received_by(&h2).len(), 2);
}

#[tokio::test]
async fn concurrent_answers_share_commits_but_each_gets_its_own_outcome() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let open = start_for_association(&app, &city.officer_a, &city.association_a).await;
    let closed = start_for_association(&app, &city.officer_a, &city.association_a).await;
    expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/safety-checks/{closed}/close"),
            &json!({}),
        )
        .await,
        204,
    )
    .await;

    // Answers to the open and the closed check, sent at once, so batches mix them: the
    // refused ones must not take the others down with them.
    let members = [
        &city.resident_h1,
        &city.resident_h2,
        &city.han_leader_h1,
        &city.officer_a,
        &city.chair_a,
    ];
    // Rounds one after another, so the last round's answer is each household's final one.
    for round in 0..4 {
        let status = if round % 2 == 0 { "safe" } else { "needs_help" };
        let mut checks = Vec::new();
        let mut requests = Vec::new();
        for member in members {
            for check in [&open, &closed] {
                checks.push(check.clone());
                requests.push(answer(&app, member, check, json!({"status": status})));
            }
        }
        let responses = futures_util::future::join_all(requests).await;
        for (check, response) in checks.iter().zip(responses) {
            let expected = if *check == open { 204 } else { 409 };
            assert_eq!(response.status(), expected, "round {round}, {check}");
        }
    }
    // Five households answered four times each: one current answer each, the history whole.
    let s = status(&app, &city.officer_a, &open).await;
    assert_eq!(
        (s["answered"].clone(), s["needs_help"].clone()),
        (json!(5), json!(5))
    );
    assert_eq!(stored_answers(&app), (5, 20));
    assert_eq!(status(&app, &city.officer_a, &closed).await["answered"], 0);
}

#[tokio::test]
async fn one_household_answering_many_times_at_once_keeps_every_answer_in_its_history() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;
    // Likely in one batch: its upsert must take the household's row once, its last answer.
    let requests = (0..10).map(|n| {
        let status = if n % 2 == 0 { "safe" } else { "needs_help" };
        answer(
            &app,
            &city.resident_h1,
            &check,
            json!({"status": status, "note": format!("{n}回目")}),
        )
    });
    for response in futures_util::future::join_all(requests).await {
        assert_eq!(response.status(), 204);
    }
    assert_eq!(stored_answers(&app), (1, 10));
    let s = status(&app, &city.officer_a, &check).await;
    assert_eq!(s["answered"], 1, "{s}");
}

#[tokio::test]
async fn a_member_who_moves_answers_for_their_new_household_at_once() {
    // The answer takes the member's place from memory: a move must show in it at once.
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let check = start_for_association(&app, &city.officer_a, &city.association_a).await;
    answer_ok(&app, &city.resident_h1, &check, json!({"status": "safe"})).await;
    city.move_resident_h1_to_h2(&app).await;
    answer_ok(
        &app,
        &city.resident_h1,
        &check,
        json!({"status": "needs_help"}),
    )
    .await;

    let mut stored: Vec<(String, String, String)> = safety_answers::table
        .filter(safety_answers::safety_check_id.eq(&check))
        .select((
            safety_answers::household_id,
            safety_answers::status,
            safety_answers::answered_by,
        ))
        .load(&mut *app.db.get().unwrap())
        .unwrap();
    stored.sort();
    let mut expected = vec![
        (
            city.household_h1_resident.clone(),
            "safe".to_string(),
            city.resident_h1.id.clone(),
        ),
        (
            city.household_h2_resident.clone(),
            "needs_help".to_string(),
            city.resident_h1.id.clone(),
        ),
    ];
    expected.sort();
    assert_eq!(
        stored, expected,
        "the old household keeps its answer; the new one has theirs"
    );
}
