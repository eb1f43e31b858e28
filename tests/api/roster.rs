//! The roster: CSV export and import, handover of roles, join requests, and the audit log.

use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, error_code, spawn_app};

const BOM: &[u8] = b"\xEF\xBB\xBF";

fn roster_path(city: &City) -> String {
    format!("/api/v1/associations/{}/roster.csv", city.association_a)
}

async fn import(app: &TestApp, actor: &Actor, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(&actor.access_token)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn households(app: &TestApp, city: &City) -> Vec<Value> {
    let body = expect_json(
        app.get_as(
            &city.admin,
            &format!("/api/v1/associations/{}/households", city.association_a),
        )
        .await,
        200,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

async fn hans(app: &TestApp, city: &City) -> Vec<Value> {
    let body = expect_json(
        app.get_as(
            &city.admin,
            &format!("/api/v1/associations/{}/hans", city.association_a),
        )
        .await,
        200,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

async fn audit_log(app: &TestApp, city: &City) -> Vec<Value> {
    let body = expect_json(
        app.get_as(
            &city.admin,
            &format!("/api/v1/audit-log?association_id={}", city.association_a),
        )
        .await,
        200,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

async fn roles(app: &TestApp, city: &City) -> Vec<Value> {
    let body = expect_json(
        app.get_as(
            &city.admin,
            &format!("/api/v1/associations/{}/roles", city.association_a),
        )
        .await,
        200,
    )
    .await;
    body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn roster_export_is_utf8_csv_with_a_bom_and_one_line_per_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let response = app.get_as(&city.officer_a, &roster_path(&city)).await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let bytes = response.bytes().await.unwrap();
    assert!(
        bytes.starts_with(BOM),
        "starts with the UTF-8 BOM: {:?}",
        &bytes[..bytes.len().min(8)]
    );
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap().trim_end_matches('\r'),
        "household_id,han,label,paper,members"
    );

    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let listed = households(&app, &city).await;
    assert_eq!(
        records.len(),
        listed.len(),
        "one line per household:\n{text}"
    );
    for household in &listed {
        let id = household["id"].as_str().unwrap();
        assert!(
            records
                .iter()
                .any(|r| &r[0] == id && r[2] == household["label"]),
            "{id} exported:\n{text}"
        );
    }
    let paper = records
        .iter()
        .find(|r| r[0] == *city.household_h1_paper)
        .expect("the paper household is exported");
    assert_eq!(&paper[1], "一班");
    assert_eq!(&paper[2], "紙回覧宅イチ");
}

#[tokio::test]
async fn importing_the_same_utf8_roster_twice_changes_nothing_the_second_time() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = roster_path(&city);
    let csv = "han,label,paper\n三班,取込一,yes\n三班,取込二,no\n四班,取込三,no\n一班,取込四,no\n";
    let hans_before = hans(&app, &city).await.len();
    let households_before = households(&app, &city).await.len();

    let first = expect_json(
        import(&app, &city.officer_a, &path, csv.as_bytes().to_vec()).await,
        200,
    )
    .await;
    assert_eq!(first["hans_added"], 2, "{first}");
    assert_eq!(first["households_added"], 4, "{first}");
    assert_eq!(first["unchanged"], 0, "{first}");
    assert_eq!(hans(&app, &city).await.len(), hans_before + 2);
    let after = households(&app, &city).await;
    assert_eq!(after.len(), households_before + 4);
    let one = after
        .iter()
        .find(|h| h["label"] == "取込一")
        .expect("取込一 imported");
    assert_eq!(one["han"], "三班");
    assert_eq!(one["paper"], true);
    let four = after
        .iter()
        .find(|h| h["label"] == "取込四")
        .expect("取込四 imported");
    assert_eq!(
        four["han_id"],
        city.han_h1.as_str(),
        "an existing han is reused"
    );

    let second = expect_json(
        import(&app, &city.officer_a, &path, csv.as_bytes().to_vec()).await,
        200,
    )
    .await;
    assert_eq!(second["hans_added"], 0, "{second}");
    assert_eq!(second["households_added"], 0, "{second}");
    assert_eq!(second["unchanged"], 4, "{second}");

    // The same file as Excel saves it: a BOM and CRLF line ends.
    let mut excel = BOM.to_vec();
    excel.extend(csv.replace('\n', "\r\n").into_bytes());
    let third = expect_json(import(&app, &city.chair_a, &path, excel).await, 200).await;
    assert_eq!(third["households_added"], 0, "{third}");
    assert_eq!(households(&app, &city).await.len(), households_before + 4);
}

#[tokio::test]
async fn a_shift_jis_roster_is_read() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = roster_path(&city);
    let csv = "han,label,paper\n五班,渡辺宅,yes\n五班,斉藤宅,no\n";
    let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(csv);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");

    let first = expect_json(
        import(&app, &city.officer_a, &path, bytes.to_vec()).await,
        200,
    )
    .await;
    assert_eq!(first["hans_added"], 1, "{first}");
    assert_eq!(first["households_added"], 2, "{first}");
    let listed = households(&app, &city).await;
    let watanabe = listed
        .iter()
        .find(|h| h["label"] == "渡辺宅")
        .expect("decoded label");
    assert_eq!(watanabe["han"], "五班");
    assert_eq!(watanabe["paper"], true);

    let second = expect_json(
        import(&app, &city.officer_a, &path, bytes.to_vec()).await,
        200,
    )
    .await;
    assert_eq!(second["households_added"], 0, "{second}");
    assert_eq!(second["hans_added"], 0, "{second}");
    assert_eq!(second["unchanged"], 2, "{second}");
}

#[tokio::test]
async fn a_broken_roster_row_names_its_line_and_nothing_is_written() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = roster_path(&city);
    let hans_before = hans(&app, &city).await;
    let households_before = households(&app, &city).await;

    let csv = "han,label,paper\n六班,良い行,no\n六班,悪い行,maybe\n七班,後の行,no\n";
    let response = import(&app, &city.officer_a, &path, csv.as_bytes().to_vec()).await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_csv", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("line 3"),
        "{body}"
    );

    assert_eq!(hans(&app, &city).await, hans_before, "no han written");
    assert_eq!(
        households(&app, &city).await,
        households_before,
        "no household written"
    );

    for broken in [
        "label,paper\n宅,no\n",                // no han column
        "han,label,paper\n一班,,no\n",         // empty label
        "han,label,paper\n一班,宅,no,extra\n", // too many fields
    ] {
        let response = import(&app, &city.officer_a, &path, broken.as_bytes().to_vec()).await;
        assert_eq!(response.status(), 422, "{broken}");
        assert_eq!(error_code(response).await, "invalid_csv", "{broken}");
    }
    assert_eq!(households(&app, &city).await, households_before);
}

#[tokio::test]
async fn handover_ends_the_old_officer_and_chair_and_starts_the_new_ones() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let new_officer = app
        .new_resident(
            &city.officer_a,
            a,
            Some(&city.household_h2_resident),
            "next.officer@kairan.test",
            "次期役員",
        )
        .await;
    let new_chair = app
        .new_resident(
            &city.officer_a,
            a,
            Some(&city.household_h1_resident),
            "next.chair@kairan.test",
            "次期会長",
        )
        .await;
    let next_year = kairan::domain::fiscal_year(chrono::Utc::now().naive_utc()) + 1;

    let answer = expect_json(
        app.post_as(
            &city.chair_a,
            &format!("/api/v1/associations/{a}/handover"),
            &json!({"term_year": next_year, "assignments": [
                {"member_id": new_officer.id, "role": "officer"},
                {"member_id": new_chair.id, "role": "chair"},
            ]}),
        )
        .await,
        200,
    )
    .await;
    let started = answer["started"].as_array().expect("started list");
    assert_eq!(started.len(), 2, "{answer}");
    let ended = answer["ended"]
        .as_array()
        .map(|e| e.len() as u64)
        .or_else(|| answer["ended"].as_u64())
        .expect("ended is a list or a count");
    assert!(ended >= 2, "the old officer and chair ended: {answer}");

    let history = roles(&app, &city).await;
    let find = |member: &str, role: &str| -> Vec<Value> {
        history
            .iter()
            .filter(|r| r["member_id"] == member && r["role"] == role)
            .cloned()
            .collect()
    };
    for (member, role) in [
        (city.officer_a.id.as_str(), "officer"),
        (city.chair_a.id.as_str(), "chair"),
    ] {
        let rows = find(member, role);
        assert_eq!(rows.len(), 1, "{role}: {history:?}");
        assert!(
            rows[0]["ended_at"].is_string(),
            "old {role} ended: {}",
            rows[0]
        );
        assert!(rows[0]["started_at"].is_string());
    }
    for (member, role) in [
        (new_officer.id.as_str(), "officer"),
        (new_chair.id.as_str(), "chair"),
    ] {
        let rows = find(member, role);
        assert_eq!(rows.len(), 1, "{role}: {history:?}");
        assert!(
            rows[0]["ended_at"].is_null(),
            "new {role} open: {}",
            rows[0]
        );
        assert_eq!(rows[0]["term_year"], next_year);
    }
    let households_path = format!("/api/v1/associations/{a}/households");
    let old = app.get_as(&city.officer_a, &households_path).await;
    assert_eq!(old.status(), 403);
    assert_eq!(error_code(old).await, "forbidden");
    let old_chair = app
        .post_as(
            &city.chair_a,
            &format!("/api/v1/associations/{a}/invitations"),
            &json!({"role": "officer"}),
        )
        .await;
    assert_eq!(old_chair.status(), 403);
    assert_eq!(
        app.get_as(&new_officer, &households_path).await.status(),
        200
    );
    assert_eq!(
        app.post_as(
            &new_chair,
            &format!("/api/v1/associations/{a}/invitations"),
            &json!({"role": "officer"})
        )
        .await
        .status(),
        201
    );
    let me = app.me(&city.officer_a).await;
    assert!(
        !me["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "officer"),
        "{me}"
    );
}

#[tokio::test]
async fn an_approved_join_request_puts_the_member_in_a_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let member = &city.no_household;
    let path = format!("/api/v1/associations/{a}/join-requests");

    let created = expect_json(
        app.post_as(member, &path, &json!({"message": "二班に越してきました"}))
            .await,
        201,
    )
    .await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["association_id"], a.as_str());
    let id = str_field(&created, "id");

    let again = app.post_as(member, &path, &json!({})).await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "already_requested");

    let listed = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["member_id"], member.id.as_str());
    assert_eq!(row["display_name"], member.display_name.as_str());
    assert_eq!(row["message"], "二班に越してきました");
    assert_eq!(row["status"], "pending");

    let approved = expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/join-requests/{id}/approve"),
            &json!({"household_id": city.household_h2_resident}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(approved["status"], "approved");
    assert_eq!(
        approved["household_id"],
        city.household_h2_resident.as_str()
    );

    let me = app.me(member).await;
    assert_eq!(me["household_id"], city.household_h2_resident.as_str());
    assert_eq!(me["association_id"], a.as_str());
    assert_eq!(me["han_id"], city.han_h2.as_str());
    assert!(
        me["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["role"] == "resident" && r["scope_id"] == a.as_str()),
        "{me}"
    );

    let twice = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/join-requests/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(twice.status(), 409);
    assert_eq!(error_code(twice).await, "already_decided");
    let decline_after = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/join-requests/{id}/decline"),
            &json!({}),
        )
        .await;
    assert_eq!(decline_after.status(), 409);
    assert_eq!(error_code(decline_after).await, "already_decided");

    let member_now = app.post_as(member, &path, &json!({})).await;
    assert_eq!(member_now.status(), 409);
    assert_eq!(error_code(member_now).await, "already_member");
}

#[tokio::test]
async fn approving_with_a_han_starts_a_new_household_there() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);
    let created = expect_json(
        app.post_as(&city.no_household, &path, &json!({})).await,
        201,
    )
    .await;
    let id = str_field(&created, "id");
    let approved = expect_json(
        app.post_as(
            &city.chair_a,
            &format!("/api/v1/join-requests/{id}/approve"),
            &json!({"han_id": city.han_h1}),
        )
        .await,
        200,
    )
    .await;
    let household = str_field(&approved, "household_id");
    assert!(
        !city.households_a().contains(&household.as_str()),
        "a new household"
    );
    let me = app.me(&city.no_household).await;
    assert_eq!(me["household_id"], household.as_str());
    assert_eq!(me["han_id"], city.han_h1.as_str());
    // The han leader of H1 now sees it.
    let seen = expect_json(
        app.get_as(
            &city.han_leader_h1,
            &format!("/api/v1/associations/{}/households", city.association_a),
        )
        .await,
        200,
    )
    .await;
    assert!(
        seen["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["id"] == household.as_str()),
        "{seen}"
    );
}

#[tokio::test]
async fn a_declined_join_request_leaves_the_member_without_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);
    let created = expect_json(
        app.post_as(&city.no_household, &path, &json!({"message": "?"}))
            .await,
        201,
    )
    .await;
    let id = str_field(&created, "id");

    let declined = expect_json(
        app.post_as(
            &city.officer_a,
            &format!("/api/v1/join-requests/{id}/decline"),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(declined["status"], "declined");
    assert_eq!(declined["id"], id.as_str());

    let me = app.me(&city.no_household).await;
    assert_eq!(me["household_id"], Value::Null);
    assert_eq!(me["association_id"], Value::Null);

    let again = app
        .post_as(
            &city.officer_a,
            &format!("/api/v1/join-requests/{id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(again.status(), 409);
    assert_eq!(error_code(again).await, "already_decided");
    let me = app.me(&city.no_household).await;
    assert_eq!(
        me["household_id"],
        Value::Null,
        "a declined request cannot be approved later"
    );

    let listed = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id.as_str())
        .cloned();
    assert_eq!(
        row.expect("decided requests stay listed")["status"],
        "declined"
    );
}

#[tokio::test]
async fn roster_reads_and_role_changes_are_audited() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let before = audit_log(&app, &city).await.len();

    expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{a}/households"),
        )
        .await,
        200,
    )
    .await;
    let log = audit_log(&app, &city).await;
    assert!(log.len() > before, "the read was logged");
    let read = log
        .iter()
        .find(|e| {
            e["actor_id"] == city.officer_a.id.as_str() && {
                let action = e["action"].as_str().unwrap_or_default().to_lowercase();
                action.contains("household") || action.contains("roster")
            }
        })
        .unwrap_or_else(|| panic!("an entry for officer A's roster read: {log:?}"));
    assert_eq!(read["association_id"], a.as_str());
    assert!(read["created_at"].is_string() && read["id"].is_string());

    let response = app
        .get_as(
            &city.chair_a,
            &format!("/api/v1/associations/{a}/roster.csv"),
        )
        .await;
    assert_eq!(response.status(), 200);
    let log = audit_log(&app, &city).await;
    assert!(
        log.iter()
            .any(|e| e["actor_id"] == city.chair_a.id.as_str() && {
                let action = e["action"].as_str().unwrap_or_default().to_lowercase();
                action.contains("roster") || action.contains("csv") || action.contains("export")
            }),
        "the CSV export was logged: {log:?}"
    );

    let count = log.len();
    let member = app
        .new_resident(
            &city.officer_a,
            a,
            Some(&city.household_h2_resident),
            "audited@kairan.test",
            "監査対象",
        )
        .await;
    expect_json(
        app.post_as(
            &city.chair_a,
            &format!("/api/v1/associations/{a}/officers"),
            &json!({"member_id": member.id, "role": "officer"}),
        )
        .await,
        201,
    )
    .await;
    let log = audit_log(&app, &city).await;
    assert!(log.len() > count);
    assert!(
        log.iter().any(|e| e["actor_id"] == city.chair_a.id.as_str()
            && e["target_id"] == member.id.as_str()
            || e["actor_id"] == city.chair_a.id.as_str()
                && e["action"].as_str().unwrap_or_default().contains("role")),
        "the role change was logged: {log:?}"
    );
    assert!(
        log.iter().all(|e| e["association_id"] == a.as_str()),
        "only A's entries: {log:?}"
    );
}

#[tokio::test]
async fn labels_with_commas_and_quotes_survive_the_export() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let tricky = "山田, \"次郎\" 宅";
    let id = crate::fixtures::create_household(
        &app,
        &city.officer_a,
        &city.association_a,
        tricky,
        Some(&city.han_h2),
        false,
    )
    .await;
    let response = app.get_as(&city.officer_a, &roster_path(&city)).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let row = records
        .iter()
        .find(|r| r[0] == *id)
        .expect("the household is exported");
    assert_eq!(&row[1], "二班");
    assert_eq!(&row[2], tricky);
    assert!(records.iter().all(|r| r.len() == 5));
}

#[tokio::test]
async fn importing_is_refused_to_those_who_may_not_and_writes_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = roster_path(&city);
    let before = households(&app, &city).await;
    for actor in [
        &city.han_leader_h1,
        &city.officer_b,
        &city.staff,
        &city.resident_h1,
    ] {
        let response = import(
            &app,
            actor,
            &path,
            "han,label,paper\n八班,不正宅,no\n".as_bytes().to_vec(),
        )
        .await;
        assert_eq!(response.status(), 403, "{}", actor.login);
        assert_eq!(error_code(response).await, "forbidden");
    }
    assert_eq!(households(&app, &city).await, before);
}

#[tokio::test]
async fn a_handover_naming_a_stranger_changes_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let before = roles(&app, &city).await;
    let next_year = kairan::domain::fiscal_year(chrono::Utc::now().naive_utc()) + 1;
    let response = app
        .post_as(
            &city.chair_a,
            &format!("/api/v1/associations/{a}/handover"),
            &json!({"term_year": next_year, "assignments": [
                {"member_id": city.resident_h1.id, "role": "officer"},
                {"member_id": city.officer_b.id, "role": "chair"},
            ]}),
        )
        .await;
    assert_eq!(response.status(), 422);
    assert_eq!(error_code(response).await, "not_a_member");
    assert_eq!(roles(&app, &city).await, before, "no role ended or started");
    assert_eq!(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{a}/households")
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn a_role_given_by_an_invitation_is_audited_in_the_name_of_its_issuer() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a = &city.association_a;
    let (invitation, code) = app
        .invite(&city.chair_a, a, json!({"role": "officer"}))
        .await;
    let officer = app
        .register_actor(Some(&code), "invited-officer@kairan.test", "招待役員")
        .await;
    let log = audit_log(&app, &city).await;
    let entry = log
        .iter()
        .find(|e| {
            e["action"] == "role_granted_by_invitation" && e["target_id"] == officer.id.as_str()
        })
        .unwrap_or_else(|| panic!("an entry for the officer's invitation: {log:?}"));
    assert_eq!(entry["actor_id"], city.chair_a.id.as_str());
    assert_eq!(entry["association_id"], a.as_str());
    assert_eq!(entry["detail"]["role"], "officer");
    assert_eq!(entry["detail"]["invitation_id"], invitation.as_str());

    // A resident's invitation gives no role beyond resident: nothing of the kind is logged.
    let resident = app
        .new_resident(
            &city.officer_a,
            a,
            None,
            "invited-resident@kairan.test",
            "招待住民",
        )
        .await;
    let log = audit_log(&app, &city).await;
    assert!(
        !log.iter()
            .any(|e| e["action"] == "role_granted_by_invitation"
                && e["target_id"] == resident.id.as_str()),
        "{log:?}"
    );
}

#[tokio::test]
async fn admin_actions_are_audited() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = audit_log(&app, &city).await;
    expect_json(
        app.patch_as(
            &city.admin,
            &format!("/api/v1/households/{}", city.household_h2_resident),
            &json!({"paper": true}),
        )
        .await,
        200,
    )
    .await;
    let after = audit_log(&app, &city).await;
    assert!(
        after.iter().any(|e| e["actor_id"] == city.admin.id.as_str()
            && e["target_id"] == city.household_h2_resident.as_str()
            && !before.contains(e)),
        "the admin's change of a household is logged: {after:?}"
    );
}
