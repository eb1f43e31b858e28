//! Finding 8: the database, its backups and attachments are readable by the owner only.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::json;

use crate::fixtures::{City, expect_json, str_field};
use crate::helpers::spawn_app;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_eq!(mode(&path), 0o700, "{}", path.display());
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}

#[tokio::test]
async fn data_files_are_private_to_the_owner() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let data = app.database.data_dir.path().to_path_buf();
    // The data folder as an operator might have made it, open to all.
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let post = expect_json(
        app.post_as(
            &city.officer_a,
            "/api/v1/posts",
            &json!({"scope": {"kind": "association", "id": city.association_a},
                    "title": "資料", "body": "添付します"}),
        )
        .await,
        201,
    )
    .await;
    let post = str_field(&post, "id");
    let uploaded = app
        .client
        .post(app.url(&format!("/api/v1/posts/{post}/attachments?file_name=a.pdf")))
        .bearer_auth(&city.officer_a.access_token)
        .header("Content-Type", "application/pdf")
        .body(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201);
    if app.database.is_postgres() {
        // Attachments live in the database there (decision 42); no files to check.
        return;
    }
    let attachments = files_under(&data.join("attachments"));
    assert!(!attachments.is_empty());
    for file in attachments {
        assert_eq!(mode(&file), 0o600, "{}", file.display());
    }
    let backup =
        kairan::backup::scheduled_backup(&mut app.db.get().unwrap(), &data.join("backups"), 3)
            .unwrap();
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&data.join("backups")), 0o700);
    assert_eq!(mode(&data.join("kairan.sqlite3")), 0o600);
    // A restart makes the data folder private again.
    let url = app.database.url.clone();
    let dir = data.clone();
    let _restarted = crate::helpers::spawn_app_with(move |s| {
        s.server.data_dir = dir;
        s.database.url = url;
    })
    .await;
    assert_eq!(mode(&data), 0o700);
}
