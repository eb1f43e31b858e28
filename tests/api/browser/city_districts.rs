//! `/city/districts` in a browser: city staff reach it from `/city`, rename a district and
//! see a refused merge explained beside its form; axe clean on a phone, before and after.

use super::{Browser, Options};
use crate::fixtures::{City, expect_json};
use crate::helpers::spawn_app;

#[tokio::test]
async fn city_staff_rename_and_see_a_refused_merge_explained_on_a_phone() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let list = expect_json(app.get_as(&city.staff, "/api/v1/districts").await, 200).await;
    let name_of = |n: usize| list["items"][n]["name"].as_str().unwrap().to_string();
    let (first, second) = (name_of(0), name_of(1));
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.fill("ログインID", &city.staff.login).await;
    browser.fill("パスワード", &city.staff.password).await;
    browser.click_button("ログイン").await;
    browser.goto("/city").await;
    browser
        .link("校下の一覧を訂正する（名前、統合、廃止）")
        .await
        .click()
        .await
        .unwrap();
    browser.heading("校下の一覧の訂正").await;
    browser.assert_accessible("/city/districts").await;

    browser.select("名前を直す校下", &second).await;
    browser.fill("新しい名前", "新しい校下").await;
    browser.click_button("名前を直す").await;
    browser.expect_text("変更しました。").await;

    browser
        .select(
            "統合する校下（町会は統合先へ移り、この校下は廃止されます）",
            &first,
        )
        .await;
    browser.select("統合先の校下", &first).await;
    browser.click_button("統合する").await;
    browser
        .expect_text("同じ校下に統合することはできません。")
        .await;
    browser.assert_accessible("/city/districts refused").await;
    browser.close().await;
    let after = expect_json(app.get_as(&city.staff, "/api/v1/districts").await, 200).await;
    assert_eq!(after["items"][1]["name"], "新しい校下");
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        64,
        "nothing merged"
    );
}
