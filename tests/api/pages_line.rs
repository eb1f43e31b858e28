//! The LINE official account's page for officers (`/officer/line`) and city staff
//! (`/city/line`) over plain HTTP: registering, a refused field drawn again with the error
//! summary (what was typed kept, never the token or secret), the state with LINE's refusal and
//! the month's quota, replacing, removing, CSRF, and who may open it.

use diesel::prelude::*;
use kairan::db::schema::line_accounts;

use crate::fixtures::{City, expect_json};
use crate::helpers::spawn_app;
use crate::pages_officer::{signed_in, submit};

const TOKEN: &str = "page-token-0123456789";
const SECRET: &str = "page-secret-abcdef";

#[tokio::test]
async fn an_officer_registers_sees_the_state_replaces_and_removes_the_account() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut officer = signed_in(&app, &city.officer_a).await;
    let (_, hub) = officer.get(&app, "/officer").await;
    assert!(
        hub.contains("href=\"/officer/line\""),
        "linked from /officer"
    );

    let page = "/officer/line";
    let (answer, body) = officer.get(&app, page).await;
    assert_eq!(answer.status, 200);
    assert!(
        body.contains("テスト一丁目町会のLINE公式アカウント"),
        "{body}"
    );
    assert!(body.contains("まだ登録されていません。"));

    // A refused field: the summary, the message beside the field, what was typed kept, and
    // never the token or secret drawn back.
    let fields = [
        ("channel_id", "12ab"),
        ("channel_access_token", TOKEN),
        ("channel_secret", SECRET),
        ("monthly_quota", "300"),
        ("friend_url", ""),
    ];
    let (status, body) = submit(&app, &mut officer, page, page, &fields).await;
    assert_eq!(status, 422);
    assert!(body.contains("入力内容を確認してください"), "the summary");
    assert!(
        body.contains("href=\"#line-channel-id\""),
        "summary links to the field"
    );
    assert!(
        body.contains("チャネルIDの内容を確かめてください。"),
        "{body}"
    );
    assert!(body.contains("aria-invalid=\"true\""));
    assert!(body.contains("value=\"12ab\""), "what was typed is kept");
    assert!(
        !body.contains(TOKEN) && !body.contains(SECRET),
        "never drawn back"
    );
    let (status, body) = submit(
        &app,
        &mut officer,
        page,
        page,
        &[
            ("channel_id", "1656000001"),
            ("channel_access_token", TOKEN),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("チャネルシークレットを入力してください。"),
        "{body}"
    );
    let api = format!("/api/v1/associations/{}/line-account", city.association_a);
    assert_eq!(
        app.get_as(&city.officer_a, &api).await.status(),
        404,
        "nothing saved"
    );

    let fields = [
        ("channel_id", "1656000001"),
        ("channel_access_token", TOKEN),
        ("channel_secret", SECRET),
        ("monthly_quota", "300"),
        ("friend_url", "https://lin.ee/page"),
    ];
    let (status, _) = submit(&app, &mut officer, page, page, &fields).await;
    assert_eq!(status, 303);
    let saved = expect_json(app.get_as(&city.officer_a, &api).await, 200).await;
    assert_eq!(saved["channel_id"], "1656000001");
    assert_eq!(saved["quota"]["limit"], 300);
    let (_, body) = officer.get(&app, "/officer/line?saved=1").await;
    assert!(body.contains("LINE公式アカウントを保存しました。"));
    assert!(body.contains("使えます。"));
    assert!(body.contains("0 / 300 通"), "the month's quota");
    assert!(
        body.contains("/api/v1/line/webhook/1656000001"),
        "the webhook address"
    );
    assert!(
        !body.contains(TOKEN) && !body.contains(SECRET),
        "never shown back"
    );

    // LINE refused the token: the state says so, in the officer's language.
    diesel::update(line_accounts::table)
        .set((
            line_accounts::refused_at.eq(kairan::db::now()),
            line_accounts::refusal.eq(kairan::outbox::line::TOKEN_REFUSED),
        ))
        .execute(&mut *app.db.get().unwrap())
        .unwrap();
    let (_, body) = officer.get(&app, page).await;
    assert!(
        body.contains("LINEがアクセストークンを受け付けませんでした"),
        "{body}"
    );
    assert!(body.contains("新しいアクセストークンを登録するまで"));
    assert!(body.contains("アクセストークンとシークレットを入れかえる"));

    // Replacing the token clears the refusal.
    let fields = [
        ("channel_id", "1656000001"),
        ("channel_access_token", "a-new-token-456"),
        ("channel_secret", SECRET),
        ("monthly_quota", "300"),
    ];
    let (status, _) = submit(&app, &mut officer, page, page, &fields).await;
    assert_eq!(status, 303);
    let (_, body) = officer.get(&app, page).await;
    assert!(body.contains("使えます。"), "{body}");

    // Another association cannot take the channel: named beside the field.
    let mut other = signed_in(&app, &city.officer_b).await;
    let (status, body) = submit(&app, &mut other, page, page, &fields).await;
    assert_eq!(status, 422);
    assert!(body.contains("ほかの町会がすでに登録しています"), "{body}");

    // Without its CSRF token, removing changes nothing; with it, the account is gone.
    let response = officer.post(&app, "/officer/line/remove", &[]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(app.get_as(&city.officer_a, &api).await.status(), 200);
    let (status, _) = submit(&app, &mut officer, page, "/officer/line/remove", &[]).await;
    assert_eq!(status, 303);
    assert_eq!(app.get_as(&city.officer_a, &api).await.status(), 404);
}

#[tokio::test]
async fn city_staff_keep_the_citys_account_and_others_get_the_forbidden_page() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    for who in [&city.resident_h1, &city.han_leader_h1] {
        let mut jar = signed_in(&app, who).await;
        assert_eq!(jar.get(&app, "/officer/line").await.0.status, 403);
        assert_eq!(jar.get(&app, "/city/line").await.0.status, 403);
    }
    let mut officer = signed_in(&app, &city.officer_a).await;
    assert_eq!(officer.get(&app, "/city/line").await.0.status, 403);

    let mut staff = signed_in(&app, &city.staff).await;
    let (_, dashboard) = staff.get(&app, "/city").await;
    assert!(
        dashboard.contains("href=\"/city/line\""),
        "linked from /city"
    );
    let page = "/city/line";
    let (answer, body) = staff.get(&app, page).await;
    assert_eq!(answer.status, 200);
    assert!(body.contains("市のLINE公式アカウント"));
    let fields = [
        ("channel_id", "2000000002"),
        ("channel_access_token", TOKEN),
        ("channel_secret", SECRET),
        ("monthly_quota", "many"),
    ];
    let (status, body) = submit(&app, &mut staff, page, page, &fields).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("1か月に送れる数の内容を確かめてください。"),
        "{body}"
    );
    let fields = [
        ("channel_id", "2000000002"),
        ("channel_access_token", TOKEN),
        ("channel_secret", SECRET),
        ("monthly_quota", ""),
    ];
    let (status, _) = submit(&app, &mut staff, page, page, &fields).await;
    assert_eq!(status, 303);
    let saved = expect_json(
        app.get_as(&city.staff, "/api/v1/city/line-account").await,
        200,
    )
    .await;
    assert_eq!(saved["channel_id"], "2000000002");
    assert_eq!(saved["quota"]["limit"], 200, "the default quota");
    let (_, body) = staff.get(&app, page).await;
    assert!(body.contains("0 / 200 通"), "{body}");
}
