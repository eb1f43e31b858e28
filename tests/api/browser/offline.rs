//! The service worker: it installs, keeps the app shell, the page says when the network is
//! gone, and signing out leaves no cache behind.

use serde_json::json;

use super::sign_in::{RESIDENT_LOGIN, Town};
use super::{Browser, Options};
use crate::fixtures::PASSWORD;
use crate::helpers::spawn_app;

/// The cache names once a kept page's copy is there (waiting up to 5 s for it).
const KEPT_CACHE_NAMES: &str = "return (async () => {
    await navigator.serviceWorker.ready;
    for (let i = 0; i < 50 && !(await caches.has('kairan-pages')); i++) {
        await new Promise(r => setTimeout(r, 100));
    }
    return (await caches.keys()).map(n => n.replace(/-[0-9a-f]+$/, '')).sort();
})();";

#[tokio::test]
async fn the_service_worker_keeps_the_shell_says_offline_and_clears_everything_at_sign_out() {
    let app = spawn_app().await;
    Town::build(&app).await;
    let Some(browser) = Browser::open(&app, Options::phone()).await else {
        return;
    };
    browser.goto("/login").await;
    browser.link("本文へ移動").await;
    browser.fill("ログインID", RESIDENT_LOGIN).await;
    browser.fill("パスワード", PASSWORD).await;
    browser.click_button("ログイン").await;
    browser.goto("/settings").await;
    browser.button("通知を受け取る").await;
    // The inbox is kept for reading offline: open it once more now that the service worker
    // controls the page, then wait for its copy.
    browser.goto("/inbox").await;
    browser.heading("回覧板").await;
    browser.goto("/settings").await;
    browser.button("通知を受け取る").await;
    assert_eq!(
        browser.execute(KEPT_CACHE_NAMES).await,
        json!(["kairan-pages", "kairan-shell"])
    );

    browser.offline(true).await;
    browser
        .expect_text("ネットワークにつながっていません。")
        .await;
    browser.offline(false).await;

    // Something personal kept offline: a page copy and a queued answer.
    browser
        .execute(
            "return caches.open('kairan-pages')
                .then(c => c.put('/posts/1', new Response('a circular')))
                .then(() => new Promise(done => {
                    const open = indexedDB.open('kairan', 1);
                    open.onupgradeneeded = () => open.result.createObjectStore('queue', {keyPath: 'id', autoIncrement: true});
                    open.onsuccess = () => {
                        const put = open.result.transaction('queue', 'readwrite').objectStore('queue')
                            .add({url: '/safety/1/answer', body: 'status=safe', queued_at: 'now'});
                        put.onsuccess = () => { open.result.close(); done(true); };
                    };
                }));",
        )
        .await;
    browser.click_button("ログアウト").await;
    browser.heading("ログイン").await;
    let left = browser
        .execute(
            "return Promise.all([
                caches.keys().then(names => names.filter(n => n === 'kairan-pages')),
                indexedDB.databases().then(dbs => dbs.some(d => d.name === 'kairan')
                    ? new Promise(done => {
                        const open = indexedDB.open('kairan', 1);
                        open.onupgradeneeded = () => open.result.createObjectStore('queue', {keyPath: 'id', autoIncrement: true});
                        open.onsuccess = () => {
                            const count = open.result.transaction('queue').objectStore('queue').count();
                            count.onsuccess = () => { open.result.close(); done(count.result); };
                        };
                    })
                    : 0),
            ]);",
        )
        .await;
    assert_eq!(
        left,
        json!([[], 0]),
        "sign-out leaves no page copy and no queued answer"
    );
    browser.close().await;
}
