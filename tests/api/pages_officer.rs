//! The officer's pages (`/officer`) over plain HTTP: who may open them, the forms and what
//! they change, another association's ids, and the sign-in QR sheet per 班.
//! tests/api/browser/officer.rs drives the same pages in Chromium.

use serde_json::{Value, json};

use crate::fixtures::{Actor, City, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};
use crate::pages::{Jar, csrf_of};

/// A browser signed in at `/login` as `actor`.
pub async fn signed_in(app: &TestApp, actor: &Actor) -> Jar {
    let mut jar = Jar::default();
    let (_, body) = jar.get(app, "/login").await;
    let csrf = csrf_of(&body);
    let form = [
        ("csrf", csrf.as_str()),
        ("login", actor.login.as_str()),
        ("password", actor.password.as_str()),
    ];
    let response = jar.post(app, "/login", &form).await;
    assert_eq!(response.status(), 303, "{} signs in", actor.login);
    jar
}

/// Posts a form of `page` (taking its CSRF token) and answers the status and the body.
pub async fn submit(
    app: &TestApp,
    jar: &mut Jar,
    page: &str,
    to: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let (_, body) = jar.get(app, page).await;
    let csrf = csrf_of(&body);
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    let response = jar.post(app, to, &form).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn invitations_of(app: &TestApp, by: &Actor, association: &str) -> Vec<Value> {
    let path = format!("/api/v1/associations/{association}/invitations");
    let list = expect_json(app.get_as(by, &path).await, 200).await;
    list["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_resident_gets_the_forbidden_page_and_officers_see_their_association() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut resident = signed_in(&app, &city.resident_h1).await;
    for path in [
        "/officer",
        "/officer/roster",
        "/officer/invitations",
        "/officer/join-requests",
    ] {
        let (answer, body) = resident.get(&app, path).await;
        assert_eq!(answer.status, 403, "{path}");
        assert!(
            body.contains("この操作はできません"),
            "{path}: the 403 page"
        );
    }
    let mut chair = signed_in(&app, &city.chair_a).await;
    let (answer, body) = chair.get(&app, "/officer").await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("<h1>役員の窓口</h1>"));
    assert!(body.contains("テスト一丁目町会"));
    assert!(body.contains("一班のログイン用QRコード"));
    assert!(body.contains("返事を待っている申請はありません。"));
}

#[tokio::test]
async fn a_han_leader_sees_only_their_han_and_keeps_no_roster() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut leader = signed_in(&app, &city.han_leader_h1).await;
    let (answer, body) = leader.get(&app, "/officer/roster").await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("紙回覧宅イチ") && body.contains("住民宅イチ"));
    assert!(!body.contains("住民宅ニ"), "another 班's household");
    assert!(!body.contains("班を追加"), "no roster forms for a 班長");
    for path in ["/officer/invitations", "/officer/join-requests"] {
        assert_eq!(leader.get(&app, path).await.0.status, 403, "{path}");
    }
    let sheet = format!("/officer/hans/{}/sign-in-codes", city.han_h1);
    assert_eq!(leader.get(&app, &sheet).await.0.status, 403);
}

#[tokio::test]
async fn an_officer_adds_a_han_and_a_paper_household_through_the_forms() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut officer = signed_in(&app, &city.officer_a).await;
    let page = "/officer/roster";
    let (status, _) = submit(
        &app,
        &mut officer,
        page,
        "/officer/roster/hans",
        &[("name", "三班")],
    )
    .await;
    assert_eq!(status, 303);
    let hans = expect_json(
        app.get_as(
            &city.officer_a,
            &format!("/api/v1/associations/{}/hans", city.association_a),
        )
        .await,
        200,
    )
    .await;
    let san = hans["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["name"] == "三班")
        .map(|h| str_field(h, "id"))
        .expect("the new han");
    let fields = [
        ("label", "新しい紙の家"),
        ("han", san.as_str()),
        ("paper", "on"),
    ];
    let (status, _) = submit(
        &app,
        &mut officer,
        page,
        "/officer/roster/households",
        &fields,
    )
    .await;
    assert_eq!(status, 303);
    let (_, body) = officer.get(&app, page).await;
    let section = &body[body.find(">三班</h2>").expect("the han's section")..];
    assert!(section.contains("新しい紙の家"));
    assert!(section.contains("紙で受け取る"));

    // The paper flag is switched back with the household's button.
    let households = format!("/api/v1/associations/{}/households", city.association_a);
    let paper_of = |list: &Value| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["label"] == "新しい紙の家")
            .map(|h| (str_field(h, "id"), h["paper"].as_bool().unwrap()))
            .unwrap()
    };
    let (id, paper) =
        paper_of(&expect_json(app.get_as(&city.officer_a, &households).await, 200).await);
    assert!(paper);
    let to = format!("/officer/roster/households/{id}/paper");
    let (status, _) = submit(&app, &mut officer, page, &to, &[("paper", "false")]).await;
    assert_eq!(status, 303);
    let (_, paper) =
        paper_of(&expect_json(app.get_as(&city.officer_a, &households).await, 200).await);
    assert!(!paper);

    // An empty name is drawn again with the message, and nothing is added.
    let (status, body) = submit(
        &app,
        &mut officer,
        page,
        "/officer/roster/hans",
        &[("name", " ")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("班の名前を入力してください"));
    assert!(body.contains("aria-invalid=\"true\""));

    // Without its CSRF token, the form changes nothing.
    let response = officer
        .post(&app, "/officer/roster/hans", &[("name", "四班")])
        .await;
    assert_eq!(response.status(), 400);
    let (_, body) = officer.get(&app, page).await;
    assert!(!body.contains("四班"));
}

#[tokio::test]
async fn an_invitation_is_made_shown_once_with_its_qr_code_and_revoked() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let before = invitations_of(&app, &city.chair_a, &city.association_a)
        .await
        .len();
    let mut chair = signed_in(&app, &city.chair_a).await;
    let page = "/officer/invitations";
    let fields = [("role", "resident"), ("uses", "3"), ("days", "30")];
    let (status, body) = submit(&app, &mut chair, page, page, &fields).await;
    assert_eq!(status, 200);
    assert!(body.contains("テスト一丁目町会への参加のご案内"));
    assert!(body.contains("<svg"), "a QR code drawn by the server");
    let start = body.find("/join/").unwrap();
    let code: String = body[start + 6..]
        .chars()
        .take_while(|c| *c != '"')
        .collect();
    assert_eq!(code.len(), 14, "{code}");
    // The join link works.
    assert_eq!(
        Jar::default()
            .get(&app, &format!("/join/{code}"))
            .await
            .0
            .status,
        200
    );

    let after = invitations_of(&app, &city.chair_a, &city.association_a).await;
    assert_eq!(after.len(), before + 1);
    let newest = &after[0];
    assert_eq!(newest["max_uses"], 3);
    let id = str_field(newest, "id");

    // Bad terms: the page says so, and nothing is issued.
    let fields = [("role", "resident"), ("uses", "0"), ("days", "30")];
    let (status, body) = submit(&app, &mut chair, page, page, &fields).await;
    assert_eq!(status, 422);
    assert!(body.contains("使える回数は1から1000までの数で入力してください。"));
    assert_eq!(
        invitations_of(&app, &city.chair_a, &city.association_a)
            .await
            .len(),
        before + 1
    );

    let (status, _) = submit(
        &app,
        &mut chair,
        page,
        &format!("/officer/invitations/{id}/revoke"),
        &[],
    )
    .await;
    assert_eq!(status, 303);
    let (_, body) = chair.get(&app, "/officer/invitations?revoked=1").await;
    assert!(body.contains("取り消し済み"));
    assert_eq!(
        Jar::default()
            .get(&app, &format!("/join/{code}"))
            .await
            .0
            .status,
        422
    );
}

#[tokio::test]
async fn a_join_request_is_approved_into_a_han() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);
    let asked = expect_json(
        app.post_as(
            &city.no_household,
            &path,
            &json!({"message": "三丁目に越してきました"}),
        )
        .await,
        201,
    )
    .await;
    let id = str_field(&asked, "id");
    let mut officer = signed_in(&app, &city.officer_a).await;
    let (_, body) = officer.get(&app, "/officer").await;
    assert!(body.contains("1件の申請が返事を待っています"));
    let page = "/officer/join-requests";
    let (_, body) = officer.get(&app, page).await;
    assert!(body.contains("未所属九郎さんを承認する") && body.contains("三丁目に越してきました"));
    let to = format!("/officer/join-requests/{id}/approve");
    let (status, _) = submit(
        &app,
        &mut officer,
        page,
        &to,
        &[("han", city.han_h2.as_str())],
    )
    .await;
    assert_eq!(status, 303);
    let me = app.me(&city.no_household).await;
    assert!(me["household_id"].is_string(), "{me}");
    let (_, body) = officer.get(&app, page).await;
    assert!(body.contains("返事を待っている申請はありません。"));
    assert!(body.contains("承認しました"));
}

#[tokio::test]
async fn another_associations_ids_give_the_not_found_page_and_change_nothing() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let (invitation, _) = app
        .invite(&city.chair_a, &city.association_a, json!({}))
        .await;
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);
    let asked = expect_json(
        app.post_as(&city.no_household, &path, &json!({})).await,
        201,
    )
    .await;
    let request = str_field(&asked, "id");

    let mut other = signed_in(&app, &city.officer_b).await;
    let home = "/officer/invitations";
    for to in [
        format!("/officer/invitations/{invitation}/revoke"),
        format!("/officer/join-requests/{request}/approve"),
        format!("/officer/join-requests/{request}/decline"),
        format!("/officer/hans/{}/sign-in-codes", city.han_h1),
        format!(
            "/officer/roster/households/{}/paper",
            city.household_h1_resident
        ),
    ] {
        let fields = [("member", city.resident_h1.id.as_str()), ("paper", "true")];
        let (status, body) = submit(&app, &mut other, home, &to, &fields).await;
        assert_eq!(status, 404, "{to}");
        assert!(
            body.contains("ページが見つかりません"),
            "{to}: the 404 page"
        );
    }
    let sheet = format!("/officer/hans/{}/sign-in-codes", city.han_h1);
    assert_eq!(other.get(&app, &sheet).await.0.status, 404);

    // Nothing changed: the invitation is live, the request waits, the resident is signed in,
    // their household still reads in the app.
    let households = format!("/api/v1/associations/{}/households", city.association_a);
    let list = expect_json(app.get_as(&city.officer_a, &households).await, 200).await;
    let resident_household = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == city.household_h1_resident.as_str())
        .unwrap();
    assert_eq!(resident_household["paper"], false);
    let live = invitations_of(&app, &city.chair_a, &city.association_a).await;
    assert!(
        live.iter()
            .any(|i| i["id"] == invitation.as_str() && i["revoked_at"].is_null())
    );
    let requests = expect_json(app.get_as(&city.officer_a, &path).await, 200).await;
    assert_eq!(requests["items"][0]["status"], "pending");
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": city.resident_h1.refresh_token}),
        )
        .await;
    assert_eq!(
        refresh.status(),
        200,
        "no sign-in code ended the resident's sign-ins"
    );
}

#[tokio::test]
async fn a_hans_sign_in_sheet_prints_one_time_codes_for_the_chosen_members() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut officer = signed_in(&app, &city.officer_a).await;
    let page = format!("/officer/hans/{}/sign-in-codes", city.han_h1);
    let (answer, body) = officer.get(&app, &page).await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("住民四郎") && body.contains("班長三郎"));
    assert!(!body.contains("住民五郎"), "a member of another 班");

    // Choosing nobody is refused on the page.
    let (status, body) = submit(&app, &mut officer, &page, &page, &[]).await;
    assert_eq!(status, 422);
    assert!(body.contains("一人以上選んでください"));
    // A member of another 班 is refused before any code is issued.
    let fields = [
        ("member", city.resident_h1.id.as_str()),
        ("member", city.resident_h2.id.as_str()),
    ];
    assert_eq!(
        submit(&app, &mut officer, &page, &page, &fields).await.0,
        404
    );

    let fields = [("member", city.resident_h1.id.as_str())];
    let (status, body) = submit(&app, &mut officer, &page, &page, &fields).await;
    assert_eq!(status, 200);
    assert!(body.contains("一班のログイン用QRコード") && body.contains("<svg"));
    let start = body.find("/signin/").unwrap();
    let signin: String = body[start..].chars().take_while(|c| *c != '"').collect();

    let mut phone = Jar::default();
    let (_, shown) = phone.get(&app, &signin).await;
    let csrf = csrf_of(&shown);
    assert_eq!(
        phone.post(&app, &signin, &[("csrf", &csrf)]).await.status(),
        303
    );
    let (answer, _) = phone.get(&app, "/settings").await;
    assert_eq!(answer.status, 200, "the phone is signed in");
    let mut second = Jar::default();
    assert_eq!(
        second.get(&app, &signin).await.0.status,
        422,
        "once, not twice"
    );

    let issued: i64 = {
        use diesel::prelude::*;
        use kairan::db::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq("sign_in_code_issued"))
            .count()
            .get_result(&mut app.db.get().unwrap())
            .unwrap()
    };
    assert_eq!(
        issued, 1,
        "audited, and nothing issued for the refused choice"
    );
}

/// A circular to association A that asks for confirmation, by its officer.
pub(crate) async fn circular(app: &TestApp, city: &City) -> String {
    let body = json!({"scope": {"kind": "association", "id": city.association_a},
        "title": "草刈りのお知らせ", "body": "日曜日の朝8時に公園へ。\n軍手を持ってきてください。",
        "requires_confirmation": true});
    let post = expect_json(
        app.post_as(&city.officer_a, "/api/v1/posts", &body).await,
        201,
    )
    .await;
    str_field(&post, "id")
}

#[tokio::test]
async fn receipts_list_the_unconfirmed_per_han_and_record_a_paper_confirmation() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = circular(&app, &city).await;
    let mut chair = signed_in(&app, &city.chair_a).await;
    let (_, body) = chair.get(&app, "/officer").await;
    assert!(body.contains("確認を求める回覧: 1件"), "the hub counts it");
    let (_, body) = chair.get(&app, "/officer/posts").await;
    assert!(body.contains(&format!("/officer/posts/{post}/receipts")));
    let page = format!("/officer/posts/{post}/receipts");
    let (answer, body) = chair.get(&app, &page).await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("「草刈りのお知らせ」の確認状況"));
    assert!(body.contains("確認した世帯: 0"));
    let ichi = &body[body.find(">一班</h3>").unwrap()..body.find(">二班</h3>").unwrap()];
    assert!(ichi.contains("紙回覧宅イチ") && ichi.contains("住民宅イチ"));
    assert!(
        ichi.contains("紙回覧宅イチ: 紙で確認済み"),
        "a button for the paper household"
    );
    assert!(
        !ichi.contains("住民宅イチ: 紙で確認済み"),
        "none for a household on the app"
    );

    // Another association's officer: 404, and nothing is recorded.
    let mut other = signed_in(&app, &city.officer_b).await;
    assert_eq!(other.get(&app, &page).await.0.status, 404);
    let to = format!("/officer/posts/{post}/paper-confirmations");
    let fields = [("household", city.household_h1_paper.as_str())];
    assert_eq!(
        submit(&app, &mut other, "/officer", &to, &fields).await.0,
        404
    );
    let (_, body) = chair.get(&app, &page).await;
    assert!(body.contains("確認した世帯: 0"));

    let (status, _) = submit(&app, &mut chair, &page, &to, &fields).await;
    assert_eq!(status, 303);
    let (_, body) = chair.get(&app, &page).await;
    assert!(body.contains("確認した世帯: 1"));
    assert!(!body.contains("紙回覧宅イチ"), "off the visit list");

    // The large-print view for paper households.
    let (answer, body) = chair
        .get(&app, &format!("/officer/posts/{post}/print"))
        .await;
    assert_eq!(answer.status, 200);
    assert!(
        body.contains("<h1>草刈りのお知らせ</h1>") && body.contains("軍手を持ってきてください。")
    );
}

#[tokio::test]
async fn a_han_leader_records_the_ticked_boxes_of_their_hans_paper_sheet() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = circular(&app, &city).await;
    let mut leader = signed_in(&app, &city.han_leader_h1).await;
    let page = format!("/officer/posts/{post}/receipts");
    let (_, body) = leader.get(&app, &page).await;
    assert!(
        body.contains(">一班</h3>") && !body.contains(">二班</h3>"),
        "their 班 only"
    );
    let sheet = format!("/officer/posts/{post}/hans/{}/sheet", city.han_h1);
    let (_, body) = leader.get(&app, &sheet).await;
    assert!(body.contains("一班の紙回覧チェック表") && body.contains("紙回覧宅イチ"));
    assert!(!body.contains("住民宅イチ"), "only paper households");
    let other_han = format!("/officer/posts/{post}/hans/{}/sheet", city.han_h2);
    assert_eq!(leader.get(&app, &other_han).await.0.status, 404);
    let fields = [("household", city.household_h1_paper.as_str())];
    let (status, _) = submit(&app, &mut leader, &sheet, &sheet, &fields).await;
    assert_eq!(status, 303);
    let (_, body) = leader.get(&app, &page).await;
    assert!(body.contains("確認した世帯: 1"));
    let (_, body) = leader.get(&app, &sheet).await;
    assert!(body.contains("まだ確認していない紙回覧の世帯はありません"));
}

#[tokio::test]
async fn a_tampered_han_sheet_records_nothing_at_all() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let post = circular(&app, &city).await;
    let mut leader = signed_in(&app, &city.han_leader_h1).await;
    let sheet = format!("/officer/posts/{post}/hans/{}/sheet", city.han_h1);
    let (_, _) = leader.get(&app, &sheet).await;
    // Their own paper household, then one of another 班 they may not answer for.
    let fields = [
        ("household", city.household_h1_paper.as_str()),
        ("household", city.household_h2_resident.as_str()),
    ];
    let (status, _) = submit(&app, &mut leader, &sheet, &sheet, &fields).await;
    assert_ne!(status, 303, "refused");
    let (_, body) = leader
        .get(&app, &format!("/officer/posts/{post}/receipts"))
        .await;
    assert!(
        body.contains("確認した世帯: 0"),
        "the allowed box was not recorded either"
    );
}
