//! Surveys and attendance (アンケート, 出欠): one answer per household, changeable until the
//! deadline; tallies and CSV for those who follow the post; 404 for everyone else.

use chrono::{Duration, Utc};
use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

/// A post's id and its question ids, in order: 出欠 (single, required), 手伝える作業
/// (multiple), 参加人数 (number, required), ご意見 (short text).
struct Survey {
    post: String,
    q: Vec<String>,
}

fn questions() -> Value {
    json!([
        {"kind": "single_choice", "prompt": "出欠", "options": ["出席", "欠席"], "required": true},
        {"kind": "multiple_choice", "prompt": "手伝える作業", "options": ["受付", "設営", "片付け"]},
        {"kind": "number", "prompt": "参加人数", "required": true},
        {"kind": "short_text", "prompt": "ご意見"},
    ])
}

async fn create_survey(app: &TestApp, by: &Actor, scope: Value) -> Survey {
    let body = json!({
        "scope": scope,
        "title": "秋祭りの出欠",
        "body": "参加できるかお知らせください。",
        "category": "survey",
        "questions": questions(),
        "answers_until": (Utc::now() + Duration::days(7)).to_rfc3339(),
    });
    let created = expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await;
    let q = created["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| str_field(q, "id"))
        .collect();
    Survey {
        post: str_field(&created, "id"),
        q,
    }
}

async fn association_survey(app: &TestApp, city: &City) -> Survey {
    create_survey(
        app,
        &city.officer_a,
        json!({"kind": "association", "id": city.association_a}),
    )
    .await
}

/// A full answer: 出欠, 作業 (none when empty), 人数, ご意見 (none when absent).
fn answer(s: &Survey, choice: i64, choices: &[i64], number: i64, text: Option<&str>) -> Value {
    let mut answers = vec![
        json!({"question_id": s.q[0], "choice": choice}),
        json!({"question_id": s.q[2], "number": number}),
    ];
    if !choices.is_empty() {
        answers.push(json!({"question_id": s.q[1], "choices": choices}));
    }
    if let Some(text) = text {
        answers.push(json!({"question_id": s.q[3], "text": text}));
    }
    json!({ "answers": answers })
}

async fn put_answers(app: &TestApp, by: &Actor, s: &Survey, body: &Value) -> Response {
    let path = format!("/api/v1/posts/{}/answers", s.post);
    app.send_as(Method::PUT, Some(by), &path, Some(body)).await
}

async fn submit(app: &TestApp, by: &Actor, s: &Survey, body: &Value) -> Value {
    expect_json(put_answers(app, by, s, body).await, 200).await
}

async fn mine(app: &TestApp, by: &Actor, s: &Survey) -> Response {
    app.get_as(by, &format!("/api/v1/posts/{}/answers/mine", s.post))
        .await
}

async fn tally(app: &TestApp, by: &Actor, s: &Survey) -> Value {
    let path = format!("/api/v1/posts/{}/tally", s.post);
    expect_json(app.get_as(by, &path).await, 200).await
}

async fn csv(app: &TestApp, by: &Actor, s: &Survey) -> Response {
    app.get_as(by, &format!("/api/v1/posts/{}/answers.csv", s.post))
        .await
}

/// The answer of a stored response to one question, by question id.
fn answer_to<'a>(stored: &'a Value, question: &str) -> Option<&'a Value> {
    stored["answers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["question_id"] == question)
}

fn sorted_texts(question: &Value) -> Vec<String> {
    let mut texts: Vec<String> = question["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    texts.sort();
    texts
}

fn set_post_time(app: &TestApp, post: &str, answers_until: bool) {
    use kairan::db::schema::posts;
    let past = (Utc::now() - Duration::minutes(1)).naive_utc();
    let target = posts::table.filter(posts::id.eq(post));
    let mut conn = app.db.get().unwrap();
    let changed = if answers_until {
        diesel::update(target)
            .set(posts::answers_until.eq(past))
            .execute(&mut *conn)
    } else {
        diesel::update(target)
            .set(posts::expires_at.eq(past))
            .execute(&mut *conn)
    }
    .unwrap();
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn a_household_has_one_answer_and_the_later_member_wins() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;
    let spouse = app
        .new_resident(
            &city.officer_a,
            &city.association_a,
            Some(&city.household_h1_resident),
            "spouse.h1@kairan.test",
            "住民四郎の妻",
        )
        .await;

    let first = submit(
        &app,
        &city.resident_h1,
        &s,
        &answer(&s, 0, &[2, 0], 2, Some("  よろしく ")),
    )
    .await;
    assert_eq!(first["household_id"], city.household_h1_resident.as_str());
    assert_eq!(first["answered_by"], city.resident_h1.id.as_str());
    assert_eq!(
        answer_to(&first, &s.q[1]).unwrap()["choices"],
        json!([0, 2])
    );
    assert_eq!(answer_to(&first, &s.q[3]).unwrap()["text"], "よろしく");

    submit(&app, &spouse, &s, &answer(&s, 1, &[], 1, None)).await;

    let t = tally(&app, &city.officer_a, &s).await;
    assert_eq!(t["responses"], 1);
    assert_eq!(t["questions"][0]["counts"], json!([0, 1]));
    assert_eq!(t["questions"][1]["counts"], json!([0, 0, 0]));
    assert_eq!(t["questions"][1]["count"], 0);
    assert_eq!(t["questions"][2]["sum"], 1);
    assert_eq!(t["questions"][3]["texts"], json!([]));
    for member in [&city.resident_h1, &spouse] {
        let stored = expect_json(mine(&app, member, &s).await, 200).await;
        assert_eq!(stored["answered_by"], spouse.id.as_str());
        assert_eq!(answer_to(&stored, &s.q[0]).unwrap()["choice"], 1);
        assert!(answer_to(&stored, &s.q[3]).is_none());
    }
    // Another household has not answered.
    assert_eq!(mine(&app, &city.resident_h2, &s).await.status(), 404);
}

#[tokio::test]
async fn answers_change_until_the_deadline_and_are_closed_after_it() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;

    submit(&app, &city.resident_h2, &s, &answer(&s, 0, &[], 3, None)).await;
    let changed = submit(&app, &city.resident_h2, &s, &answer(&s, 1, &[], 4, None)).await;
    assert_eq!(answer_to(&changed, &s.q[2]).unwrap()["number"], 4);
    let t = tally(&app, &city.officer_a, &s).await;
    assert_eq!(t["responses"], 1);
    assert_eq!(t["questions"][0]["counts"], json!([0, 1]));
    assert_eq!(t["questions"][2]["sum"], 4);

    set_post_time(&app, &s.post, true);
    let response = put_answers(&app, &city.resident_h2, &s, &answer(&s, 0, &[], 9, None)).await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "answers_closed");
    let stored = expect_json(mine(&app, &city.resident_h2, &s).await, 200).await;
    assert_eq!(stored["answers"], changed["answers"]);
    assert_eq!(
        tally(&app, &city.officer_a, &s).await["questions"][2]["sum"],
        4
    );

    // Without answers_until, the post's expiry is the deadline.
    let expiring = association_survey(&app, &city).await;
    {
        use kairan::db::schema::posts;
        diesel::update(posts::table.filter(posts::id.eq(&expiring.post)))
            .set(posts::answers_until.eq(None::<chrono::NaiveDateTime>))
            .execute(&mut *app.db.get().unwrap())
            .unwrap();
    }
    set_post_time(&app, &expiring.post, false);
    let response = put_answers(
        &app,
        &city.resident_h2,
        &expiring,
        &answer(&expiring, 0, &[], 1, None),
    )
    .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "answers_closed");

    // A withdrawn post takes no answers either.
    let withdrawn = association_survey(&app, &city).await;
    let path = format!("/api/v1/posts/{}/withdraw", withdrawn.post);
    expect_json(app.post_as(&city.officer_a, &path, &json!({})).await, 204).await;
    let response = put_answers(
        &app,
        &city.resident_h2,
        &withdrawn,
        &answer(&withdrawn, 0, &[], 1, None),
    )
    .await;
    assert_eq!(response.status(), 409);
    assert_eq!(error_code(response).await, "answers_closed");
}

#[tokio::test]
async fn tallies_count_each_household_exactly_within_the_callers_scope() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;

    let answers = [
        (
            &city.resident_h1,
            answer(&s, 0, &[0, 1], 2, Some("駐車場はありますか")),
        ),
        (&city.han_leader_h1, answer(&s, 0, &[1], 3, None)),
        (&city.resident_h2, answer(&s, 1, &[], 0, Some("欠席します"))),
        (&city.chair_a, answer(&s, 0, &[0, 1, 2], 5, Some(""))),
    ];
    for (member, body) in &answers {
        submit(&app, member, &s, body).await;
    }

    for follower in [&city.officer_a, &city.chair_a, &city.admin] {
        let t = tally(&app, follower, &s).await;
        assert_eq!(t["responses"], 4, "{t}");
        // A's six households: four made by the admin, the chair's and the officer's own.
        assert_eq!(t["households"], 6);
        let q = &t["questions"];
        assert_eq!(q[0]["kind"], "single_choice");
        assert_eq!(q[0]["options"], json!(["出席", "欠席"]));
        assert_eq!(q[0]["counts"], json!([3, 1]));
        assert_eq!(q[0]["count"], 4);
        assert_eq!(q[1]["counts"], json!([2, 3, 1]));
        assert_eq!(q[1]["count"], 3);
        assert_eq!(q[2]["sum"], 10);
        assert_eq!(q[2]["count"], 4);
        assert!(q[2].get("counts").is_none());
        assert_eq!(q[3]["count"], 2);
        assert_eq!(sorted_texts(&q[3]), ["欠席します", "駐車場はありますか"]);
    }

    // The 班長 of H1 sees H1's households only: the leader's, the resident's and the paper one.
    let t = tally(&app, &city.han_leader_h1, &s).await;
    assert_eq!(t["responses"], 2);
    assert_eq!(t["households"], 3);
    assert_eq!(t["questions"][0]["counts"], json!([2, 0]));
    assert_eq!(t["questions"][2]["sum"], 5);
    assert_eq!(sorted_texts(&t["questions"][3]), ["駐車場はありますか"]);

    // Residents answer; they do not see the others' answers.
    let path = format!("/api/v1/posts/{}/tally", s.post);
    let response = app.get_as(&city.resident_h2, &path).await;
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn bad_answers_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;
    let other = association_survey(&app, &city).await;
    let good = submit(
        &app,
        &city.resident_h1,
        &s,
        &answer(&s, 0, &[1], 2, Some("元の回答")),
    )
    .await;

    let (single, multiple, number, text) = (&s.q[0], &s.q[1], &s.q[2], &s.q[3]);
    let required = |extra: Value| {
        json!({"answers": [
            {"question_id": single, "choice": 0},
            {"question_id": number, "number": 1},
            extra,
        ]})
    };
    let cases = [
        (
            "unknown question",
            required(json!({"question_id": "01936f6e-8f4c-7cc2-9a51-4f1c2c9d2e10", "text": "x"})),
            "unknown_question",
        ),
        (
            "another post's question",
            required(json!({"question_id": other.q[3], "text": "x"})),
            "unknown_question",
        ),
        (
            "choice out of range",
            json!({"answers": [{"question_id": single, "choice": 2}, {"question_id": number, "number": 1}]}),
            "invalid_answer",
        ),
        (
            "negative choice",
            json!({"answers": [{"question_id": single, "choice": -1}, {"question_id": number, "number": 1}]}),
            "invalid_answer",
        ),
        (
            "choices out of range",
            required(json!({"question_id": multiple, "choices": [0, 3]})),
            "invalid_answer",
        ),
        (
            "a choice twice",
            required(json!({"question_id": multiple, "choices": [1, 1]})),
            "invalid_answer",
        ),
        (
            "choices for a single choice",
            json!({"answers": [{"question_id": single, "choices": [0]}, {"question_id": number, "number": 1}]}),
            "invalid_answer",
        ),
        (
            "choice and number together",
            json!({"answers": [{"question_id": single, "choice": 0, "number": 1}, {"question_id": number, "number": 1}]}),
            "invalid_answer",
        ),
        (
            "text for a number",
            json!({"answers": [{"question_id": single, "choice": 0}, {"question_id": number, "text": "2"}]}),
            "invalid_answer",
        ),
        (
            "number too large",
            json!({"answers": [{"question_id": single, "choice": 0}, {"question_id": number, "number": 10001}]}),
            "invalid_answer",
        ),
        (
            "negative number",
            json!({"answers": [{"question_id": single, "choice": 0}, {"question_id": number, "number": -1}]}),
            "invalid_answer",
        ),
        (
            "text over 200 characters",
            required(json!({"question_id": text, "text": "あ".repeat(201)})),
            "invalid_answer",
        ),
        (
            "a line break in a short text",
            required(json!({"question_id": text, "text": "一行目\n二行目"})),
            "invalid_answer",
        ),
        (
            "the same question twice",
            required(json!({"question_id": single, "choice": 1})),
            "invalid_answer",
        ),
        (
            "a required question left out",
            json!({"answers": [{"question_id": number, "number": 1}]}),
            "answer_required",
        ),
        (
            "a required question left empty",
            json!({"answers": [{"question_id": single}, {"question_id": number, "number": 1}]}),
            "invalid_answer",
        ),
        (
            "an unknown field",
            required(json!({"question_id": text, "text": "x", "note": "y"})),
            "invalid_field",
        ),
    ];
    for (what, body, code) in cases {
        let response = put_answers(&app, &city.resident_h1, &s, &body).await;
        assert_eq!(response.status(), 422, "{what}");
        assert_eq!(error_code(response).await, code, "{what}");
        let stored = expect_json(mine(&app, &city.resident_h1, &s).await, 200).await;
        assert_eq!(stored, good, "{what} changed the stored answer");
    }
    let t = tally(&app, &city.officer_a, &s).await;
    assert_eq!(t["responses"], 1);
    assert_eq!(t["questions"][2]["sum"], 2);

    // 200 characters once trimmed and composed (NFC) is within the limit.
    let decomposed = format!("  {}  ", "か\u{3099}".repeat(200));
    let stored = submit(
        &app,
        &city.resident_h1,
        &s,
        &required(json!({"question_id": text, "text": decomposed})),
    )
    .await;
    assert_eq!(
        answer_to(&stored, text).unwrap()["text"],
        "が".repeat(200).as_str()
    );
}

#[tokio::test]
async fn outsiders_get_404_on_answers_tallies_and_csv() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;
    submit(
        &app,
        &city.resident_h1,
        &s,
        &answer(&s, 0, &[], 1, Some("秘密")),
    )
    .await;
    let resident_b = app
        .new_resident(
            &city.officer_b,
            &city.association_b,
            Some(&city.household_b),
            "resident.b@kairan.test",
            "二丁目住民",
        )
        .await;
    let missing = Survey {
        post: "01936f6e-8f4c-7cc2-9a51-4f1c2c9d2e10".into(),
        q: s.q.clone(),
    };
    let body = answer(&s, 0, &[], 1, None);

    let expected = expect_json(put_answers(&app, &resident_b, &missing, &body).await, 404).await;
    for outsider in [
        &resident_b,
        &city.officer_b,
        &city.officer_c,
        &city.district_officer,
        &city.staff,
        &city.no_household,
    ] {
        let who = &outsider.login;
        let responses = [
            put_answers(&app, outsider, &s, &body).await,
            mine(&app, outsider, &s).await,
            app.get_as(outsider, &format!("/api/v1/posts/{}/tally", s.post))
                .await,
            csv(&app, outsider, &s).await,
        ];
        for response in responses {
            let url = response.url().to_string();
            let error = expect_json(response, 404).await;
            assert_eq!(error, expected, "{who}: {url}");
        }
    }
    // The outsiders' attempt stored nothing.
    assert_eq!(tally(&app, &city.officer_a, &s).await["responses"], 1);

    // A post for H2 only: H1 is outside its audience.
    let body = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "han_ids": [city.han_h2],
        "title": "二班の清掃当番",
        "body": "出欠をお知らせください。",
        "questions": questions(),
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    let for_h2 = Survey {
        post: str_field(&created, "id"),
        q: created["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| str_field(q, "id"))
            .collect(),
    };
    let body = answer(&for_h2, 0, &[], 1, None);
    let response = put_answers(&app, &city.resident_h1, &for_h2, &body).await;
    assert_eq!(response.status(), 404);
    submit(&app, &city.resident_h2, &for_h2, &body).await;

    // A post without questions has no survey, for anyone.
    let plain = json!({
        "scope": {"kind": "association", "id": city.association_a},
        "title": "回覧のみ",
        "body": "お知らせです。",
    });
    let created = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &plain).await,
        201,
    )
    .await;
    let plain = Survey {
        post: str_field(&created, "id"),
        q: s.q.clone(),
    };
    let response = put_answers(
        &app,
        &city.resident_h1,
        &plain,
        &answer(&s, 0, &[], 1, None),
    )
    .await;
    assert_eq!(response.status(), 404);
    let path = format!("/api/v1/posts/{}/tally", plain.post);
    assert_eq!(app.get_as(&city.officer_a, &path).await.status(), 404);
}

#[tokio::test]
async fn csv_export_has_one_line_per_responding_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = association_survey(&app, &city).await;
    submit(
        &app,
        &city.resident_h1,
        &s,
        &answer(&s, 0, &[0, 2], 2, Some("=1+1 駐車場")),
    )
    .await;
    submit(&app, &city.resident_h2, &s, &answer(&s, 1, &[], 0, None)).await;
    submit(&app, &city.chair_a, &s, &answer(&s, 0, &[1], 4, None)).await;

    let response = csv(&app, &city.officer_a, &s).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let bytes = response.bytes().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "the CSV starts with a BOM"
    );
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "household_id,han,label,出欠,手伝える作業,参加人数,ご意見"
    );
    assert_eq!(lines.len(), 4, "{text}");
    let line_of = |household: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(household))
            .unwrap_or_else(|| panic!("no line for {household} in {text}"))
            .to_string()
    };
    assert_eq!(
        line_of(&city.household_h1_resident),
        format!(
            "{},一班,住民宅イチ,出席,受付 / 片付け,2,'=1+1 駐車場",
            city.household_h1_resident
        )
    );
    assert_eq!(
        line_of(&city.household_h2_resident),
        format!("{},二班,住民宅ニ,欠席,,0,", city.household_h2_resident)
    );
    assert!(line_of(&city.household_h1_resident).contains("一班"));

    // The 班長 of H1 gets H1's households only.
    let response = csv(&app, &city.han_leader_h1, &s).await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains(&city.household_h1_resident));
}

#[tokio::test]
async fn city_staff_and_district_officers_see_counts_but_no_texts() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let s = create_survey(&app, &city.staff, json!({"kind": "city"})).await;
    let texts = [
        (&city.resident_h1, "持病があり参加できません"),
        (&city.resident_h2, "車椅子で参加します"),
        (&city.officer_b, "二丁目から三名"),
    ];
    for (member, text) in texts {
        submit(&app, member, &s, &answer(&s, 0, &[1], 2, Some(text))).await;
    }

    let response = app
        .get_as(&city.staff, &format!("/api/v1/posts/{}/tally", s.post))
        .await;
    let raw = response.text().await.unwrap();
    for (_, text) in texts {
        assert!(!raw.contains(text), "city staff saw a text: {raw}");
    }
    let t: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(t["responses"], 3);
    assert_eq!(t["questions"][0]["counts"], json!([3, 0]));
    assert_eq!(t["questions"][1]["counts"], json!([0, 3, 0]));
    assert_eq!(t["questions"][2]["sum"], 6);
    assert_eq!(t["questions"][3]["count"], 3);
    assert!(t["questions"][3].get("texts").is_none(), "{t}");
    // Counts-only managers get no household list either.
    assert_eq!(csv(&app, &city.staff, &s).await.status(), 404);

    // Each association's officers see their own households, with the texts.
    let a = tally(&app, &city.officer_a, &s).await;
    assert_eq!(a["responses"], 2);
    assert_eq!(a["households"], 6);
    assert_eq!(
        sorted_texts(&a["questions"][3]),
        ["持病があり参加できません", "車椅子で参加します"]
    );
    let b = tally(&app, &city.officer_b, &s).await;
    assert_eq!(sorted_texts(&b["questions"][3]), ["二丁目から三名"]);
    let c = tally(&app, &city.officer_c, &s).await;
    assert_eq!(c["responses"], 0);
    let all = a["households"].as_i64().unwrap()
        + b["households"].as_i64().unwrap()
        + c["households"].as_i64().unwrap();
    assert_eq!(t["households"], all);

    // A district officer managing a district post: counts only as well.
    let d = create_survey(
        &app,
        &city.district_officer,
        json!({"kind": "district", "id": city.district_1}),
    )
    .await;
    submit(
        &app,
        &city.resident_h1,
        &d,
        &answer(&d, 1, &[], 1, Some("持病があり参加できません")),
    )
    .await;
    let t = tally(&app, &city.district_officer, &d).await;
    assert_eq!(t["responses"], 1);
    assert_eq!(t["questions"][3]["count"], 1);
    assert!(t["questions"][3].get("texts").is_none(), "{t}");
    assert_eq!(csv(&app, &city.district_officer, &d).await.status(), 404);
}
