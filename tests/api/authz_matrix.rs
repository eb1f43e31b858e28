//! The role × endpoint matrix of the accounts and roster API: for every actor, the exact
//! status of every endpoint; error bodies and city staff's answers carry no personal data.
//!
//! Columns of every row, in `Who::ALL` order:
//!   anon  resH1 resH2 hanL1 offA  chrA  offB  offC  distO staff admin noHH

use reqwest::Method;
use serde_json::{Value, json};

use crate::fixtures::{Actor, City, Who, expect_json, str_field};
use crate::helpers::{TestApp, spawn_app};

type Row = [u16; 12];

/// Officers and chair of A, and the admin.
const A_OFFICERS: Row = [401, 403, 403, 403, 200, 200, 403, 403, 403, 403, 200, 403];
const A_OFFICERS_CREATE: Row = [401, 403, 403, 403, 201, 201, 403, 403, 403, 403, 201, 403];
const ANY_MEMBER: Row = [401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200];

struct Matrix<'a> {
    app: &'a TestApp,
    city: &'a City,
    personal: Vec<String>,
    failures: Vec<String>,
}

impl<'a> Matrix<'a> {
    fn new(app: &'a TestApp, city: &'a City) -> Self {
        Self {
            app,
            city,
            personal: city.personal_data(),
            failures: Vec::new(),
        }
    }

    /// One cell: sends, checks the status, the error shape and what the body may contain.
    /// Returns the status and body for further checks.
    async fn cell(
        &mut self,
        who: Who,
        method: Method,
        path: &str,
        body: Option<Value>,
        expected: u16,
    ) -> (u16, Value) {
        let response = self
            .app
            .send_as(method.clone(), self.city.actor(who), path, body.as_ref())
            .await;
        self.judge(who, &format!("{method} {path}"), response, expected)
            .await
    }

    /// Same with a raw text/csv body.
    async fn csv_cell(&mut self, who: Who, path: &str, csv: &str, expected: u16) -> (u16, Value) {
        self.raw_cell(who, path, "text/csv", csv.as_bytes().to_vec(), expected)
            .await
    }

    /// A POST with a raw body of the given type.
    async fn raw_cell(
        &mut self,
        who: Who,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
        expected: u16,
    ) -> (u16, Value) {
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(actor) = self.city.actor(who) {
            request = request.bearer_auth(&actor.access_token);
        }
        let response = request.send().await.unwrap();
        self.judge(
            who,
            &format!("POST {path} ({content_type})"),
            response,
            expected,
        )
        .await
    }

    async fn judge(
        &mut self,
        who: Who,
        what: &str,
        response: reqwest::Response,
        expected: u16,
    ) -> (u16, Value) {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let text = response.text().await.unwrap_or_default();
        let at = format!("{what} as {}", who.tag());
        if status != expected {
            self.failures.push(format!(
                "{at}: expected {expected}, got {status}: {}",
                short(&text)
            ));
        }
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            if !content_type.starts_with("application/json")
                || !body["error"].is_string()
                || body["message"].as_str().is_none_or(str::is_empty)
            {
                self.failures.push(format!(
                    "{at}: error body is not the JSON error shape: {}",
                    short(&text)
                ));
            }
            let code = match status {
                401 => Some("unauthorized"),
                403 => Some("forbidden"),
                404 => Some("not_found"),
                _ => None,
            };
            if let Some(code) = code
                && body["error"] != code
            {
                self.failures.push(format!(
                    "{at}: {status} with code {} instead of {code}",
                    body["error"]
                ));
            }
            self.no_personal_data(&at, "error body", &text);
        } else if who == Who::CityStaff {
            self.no_personal_data(&at, "city staff answer", &text);
        }
        (status, body)
    }

    fn no_personal_data(&mut self, at: &str, what: &str, text: &str) {
        for item in &self.personal {
            if text.contains(item.as_str()) {
                self.failures.push(format!(
                    "{at}: {what} contains personal data {item:?}: {}",
                    short(text)
                ));
            }
        }
    }

    /// A whole row with the same request for every actor (the body may depend on the actor).
    async fn row(
        &mut self,
        method: Method,
        path: &str,
        body_for: impl Fn(Who) -> Option<Value>,
        expected: Row,
    ) {
        for (who, status) in Who::ALL.into_iter().zip(expected) {
            self.cell(who, method.clone(), path, body_for(who), status)
                .await;
        }
    }

    /// A new member of `association` in a new household (invited by the admin); their login
    /// and name count as personal data from now on.
    async fn fresh_resident(&mut self, association: &str, tag: &str) -> Actor {
        let actor = self
            .app
            .new_resident(
                &self.city.admin,
                association,
                None,
                &format!("fresh.{tag}@kairan.test"),
                &format!("新人-{tag}"),
            )
            .await;
        self.personal.push(actor.login.clone());
        self.personal.push(actor.display_name.clone());
        actor
    }

    fn check(&mut self, ok: bool, message: impl Into<String>) {
        if !ok {
            self.failures.push(message.into());
        }
    }

    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} matrix failures:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

fn short(text: &str) -> String {
    text.chars().take(300).collect()
}

fn no_body(_: Who) -> Option<Value> {
    None
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

fn ids(body: &Value) -> Vec<String> {
    items(body)
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect()
}

/// A pending join request to A by a new member without a household; returns its id.
async fn fresh_join_request(app: &TestApp, city: &City, tag: &str) -> String {
    let member = app
        .register_actor(
            None,
            &format!("applicant.{tag}@kairan.test"),
            &format!("申請者-{tag}"),
        )
        .await;
    let created = expect_json(
        app.post_as(
            &member,
            &format!("/api/v1/associations/{}/join-requests", city.association_a),
            &json!({"message": "よろしくお願いします"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["status"], "pending");
    str_field(&created, "id")
}

#[tokio::test]
async fn districts_and_associations_are_readable_by_any_member() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let a = &city.association_a;

    m.row(Method::GET, "/api/v1/districts", no_body, ANY_MEMBER)
        .await;
    m.row(
        Method::GET,
        &format!("/api/v1/associations?district_id={}", city.district_1),
        no_body,
        ANY_MEMBER,
    )
    .await;
    m.row(
        Method::GET,
        &format!("/api/v1/associations/{a}"),
        no_body,
        ANY_MEMBER,
    )
    .await;
    let unknown = kairan::domain::new_id();
    m.row(
        Method::GET,
        &format!("/api/v1/associations/{unknown}"),
        no_body,
        [401, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404],
    )
    .await;

    let (_, listed) = m
        .cell(
            Who::ResidentH1,
            Method::GET,
            &format!("/api/v1/associations?district_id={}", city.district_1),
            None,
            200,
        )
        .await;
    let listed = ids(&listed);
    m.check(
        listed.contains(&city.association_a) && listed.contains(&city.association_b),
        format!("district 1 lists A and B: {listed:?}"),
    );
    m.check(
        !listed.contains(&city.association_c),
        "district 1 does not list C",
    );
    m.finish();
}

#[tokio::test]
async fn only_city_staff_and_admin_create_and_change_associations() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let d2 = city.district_2.clone();

    m.row(
        Method::POST,
        "/api/v1/associations",
        |who| {
            Some(
                json!({"district_id": d2, "name": format!("新町会-{}", who.tag()),
                        "member_households": 10}),
            )
        },
        [401, 403, 403, 403, 403, 403, 403, 403, 403, 201, 201, 403],
    )
    .await;
    m.row(
        Method::PATCH,
        &format!("/api/v1/associations/{}", city.association_a),
        |_| Some(json!({"member_households": 150})),
        [401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403],
    )
    .await;

    let staff = &city.staff;
    let unknown_district = app
        .post_as(
            staff,
            "/api/v1/associations",
            &json!({"district_id": kairan::domain::new_id(), "name": "幻町会", "member_households": 1}),
        )
        .await;
    assert_eq!(unknown_district.status(), 422);
    assert_eq!(
        crate::helpers::error_code(unknown_district).await,
        "unknown_district"
    );
    let negative = app
        .post_as(
            staff,
            "/api/v1/associations",
            &json!({"district_id": city.district_1, "name": "負町会", "member_households": -1}),
        )
        .await;
    assert_eq!(negative.status(), 422);
    assert_eq!(crate::helpers::error_code(negative).await, "invalid_input");
    let duplicate = app
        .post_as(
            staff,
            "/api/v1/associations",
            &json!({"district_id": city.district_1, "name": "テスト一丁目町会", "member_households": 5}),
        )
        .await;
    assert_eq!(duplicate.status(), 409);
    crate::helpers::error_code(duplicate).await;
    let unknown = app
        .patch_as(
            staff,
            &format!("/api/v1/associations/{}", kairan::domain::new_id()),
            &json!({"member_households": 1}),
        )
        .await;
    assert_eq!(unknown.status(), 404);

    let a = expect_json(
        app.get_as(
            &city.resident_h1,
            &format!("/api/v1/associations/{}", city.association_a),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(a["member_households"], 150);
    m.finish();
}

#[tokio::test]
async fn hans_are_for_the_associations_officers_and_han_leaders() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/hans", city.association_a);

    m.row(
        Method::GET,
        &path,
        no_body,
        [401, 403, 403, 200, 200, 200, 403, 403, 403, 403, 200, 403],
    )
    .await;
    m.row(
        Method::POST,
        &path,
        |who| Some(json!({"name": format!("新班-{}", who.tag())})),
        A_OFFICERS_CREATE,
    )
    .await;
    let (_, duplicate) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &path,
            Some(json!({"name": "一班"})),
            409,
        )
        .await;
    m.check(duplicate["error"].is_string(), "duplicate han has a code");

    // Officer B manages B's hans.
    let b_path = format!("/api/v1/associations/{}/hans", city.association_b);
    m.cell(
        Who::OfficerB,
        Method::POST,
        &b_path,
        Some(json!({"name": "一班"})),
        201,
    )
    .await;
    m.cell(Who::OfficerB, Method::GET, &b_path, None, 200).await;
    m.finish();
}

#[tokio::test]
async fn households_are_listed_to_officers_whole_and_to_han_leaders_for_their_han() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/households", city.association_a);

    m.row(
        Method::GET,
        &path,
        no_body,
        [401, 403, 403, 200, 200, 200, 403, 403, 403, 403, 200, 403],
    )
    .await;

    let (_, leader_view) = m
        .cell(Who::HanLeaderH1, Method::GET, &path, None, 200)
        .await;
    let mut seen = ids(&leader_view);
    seen.sort();
    let mut h1 = vec![
        city.household_h1_leader.clone(),
        city.household_h1_resident.clone(),
        city.household_h1_paper.clone(),
    ];
    h1.sort();
    m.check(
        seen == h1,
        format!("han leader of H1 sees exactly H1's households: {leader_view}"),
    );
    m.check(
        items(&leader_view)
            .iter()
            .all(|h| h["han_id"] == city.han_h1.as_str()),
        "every household the han leader sees is in H1",
    );

    let (_, officer_view) = m.cell(Who::OfficerA, Method::GET, &path, None, 200).await;
    let all = ids(&officer_view);
    for household in city.households_a() {
        m.check(
            all.iter().any(|h| h == household),
            format!("officer sees household {household}"),
        );
    }
    m.check(
        !all.contains(&city.household_b),
        "A's list has no household of B",
    );
    let chair_household = app.me(&city.chair_a).await["household_id"]
        .as_str()
        .unwrap()
        .to_string();
    m.check(
        all.contains(&chair_household),
        "the chair's own household is listed",
    );
    let paper = items(&officer_view)
        .into_iter()
        .find(|h| h["id"] == city.household_h1_paper.as_str())
        .unwrap_or_default();
    m.check(
        paper["paper"] == true && paper["label"] == "紙回覧宅イチ",
        format!("paper household: {paper}"),
    );

    let han_h2 = city.han_h2.clone();
    m.row(
        Method::POST,
        &path,
        |who| {
            Some(json!({"label": format!("新世帯-{}", who.tag()), "han_id": han_h2, "paper": true}))
        },
        A_OFFICERS_CREATE,
    )
    .await;

    m.row(
        Method::PATCH,
        &format!("/api/v1/households/{}", city.household_h2_resident),
        |_| Some(json!({"paper": true})),
        [401, 404, 404, 404, 200, 200, 404, 404, 404, 404, 200, 404],
    )
    .await;
    m.cell(
        Who::Admin,
        Method::PATCH,
        &format!("/api/v1/households/{}", kairan::domain::new_id()),
        Some(json!({"paper": true})),
        404,
    )
    .await;
    m.finish();
}

#[tokio::test]
async fn member_lists_are_for_the_associations_officers_only() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/members", city.association_a);

    m.row(Method::GET, &path, no_body, A_OFFICERS).await;
    let (_, listed) = m.cell(Who::ChairA, Method::GET, &path, None, 200).await;
    let listed = ids(&listed);
    for actor in [
        &city.resident_h1,
        &city.resident_h2,
        &city.han_leader_h1,
        &city.officer_a,
        &city.chair_a,
    ] {
        m.check(
            listed.contains(&actor.id),
            format!("{} is listed", actor.login),
        );
    }
    for actor in [
        &city.officer_b,
        &city.district_officer,
        &city.no_household,
        &city.staff,
    ] {
        m.check(
            !listed.contains(&actor.id),
            format!("{} is not a member of A", actor.login),
        );
    }
    m.finish();
}

#[tokio::test]
async fn invitations_are_managed_by_the_associations_officers() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/invitations", city.association_a);
    let h1 = city.household_h1_resident.clone();
    let h2 = city.household_h2_resident.clone();

    m.row(
        Method::POST,
        &path,
        |_| Some(json!({"household_id": h1})),
        A_OFFICERS_CREATE,
    )
    .await;
    m.row(
        Method::POST,
        &path,
        |_| Some(json!({"household_id": h2, "role": "han_leader"})),
        A_OFFICERS_CREATE,
    )
    .await;
    let chair_only = [401, 403, 403, 403, 403, 201, 403, 403, 403, 403, 201, 403];
    m.row(
        Method::POST,
        &path,
        |_| Some(json!({"role": "officer"})),
        chair_only,
    )
    .await;
    m.row(
        Method::POST,
        &path,
        |_| Some(json!({"role": "chair"})),
        chair_only,
    )
    .await;

    let (_, listed) = m.row_get_listing(&path).await;
    for item in items(&listed) {
        m.check(
            item.get("code").is_none(),
            format!("listed invitation shows no code: {item}"),
        );
    }

    // Invalid invitations.
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &path,
            Some(json!({"household_id": city.household_b})),
            422,
        )
        .await;
    m.check(
        e["error"] == "unknown_household",
        format!("household of B: {e}"),
    );
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &path,
            Some(json!({"max_uses": 1001})),
            422,
        )
        .await;
    m.check(e["error"] == "invalid_input", format!("max_uses 1001: {e}"));
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &path,
            Some(json!({"max_uses": 0})),
            422,
        )
        .await;
    m.check(e["error"] == "invalid_input", format!("max_uses 0: {e}"));
    let far = (chrono::Utc::now() + chrono::Duration::days(91)).to_rfc3339();
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &path,
            Some(json!({"expires_at": far})),
            422,
        )
        .await;
    m.check(
        e["error"] == "invalid_input",
        format!("expires_at in 91 days: {e}"),
    );
    let near = (chrono::Utc::now() + chrono::Duration::days(89)).to_rfc3339();
    m.cell(
        Who::OfficerA,
        Method::POST,
        &path,
        Some(json!({"expires_at": near})),
        201,
    )
    .await;
    // A han leader's invitation needs a household in a han; the chair's own has none.
    m.cell(
        Who::ChairA,
        Method::POST,
        &path,
        Some(json!({"role": "han_leader"})),
        422,
    )
    .await;
    let (_, created) = m
        .cell(Who::OfficerA, Method::POST, &path, Some(json!({})), 201)
        .await;
    m.check(
        created["max_uses"] == 1 && created["uses"] == 0,
        format!("defaults: {created}"),
    );

    // Deleting: a fresh invitation of A for every actor.
    let expected = [401, 404, 404, 404, 204, 204, 404, 404, 404, 404, 204, 404];
    for (who, status) in Who::ALL.into_iter().zip(expected) {
        let (id, _) = app
            .invite(&city.admin, &city.association_a, json!({}))
            .await;
        m.cell(
            who,
            Method::DELETE,
            &format!("/api/v1/invitations/{id}"),
            None,
            status,
        )
        .await;
    }
    m.cell(
        Who::Admin,
        Method::DELETE,
        &format!("/api/v1/invitations/{}", kairan::domain::new_id()),
        None,
        404,
    )
    .await;
    m.finish();
}

impl Matrix<'_> {
    /// The listing row shared by officer-only GETs; returns the officer's view.
    async fn row_get_listing(&mut self, path: &str) -> (u16, Value) {
        self.row(Method::GET, path, no_body, A_OFFICERS).await;
        self.cell(Who::OfficerA, Method::GET, path, None, 200).await
    }
}

#[tokio::test]
async fn join_requests_are_sent_by_members_without_household_and_decided_by_officers() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/join-requests", city.association_a);

    // Everyone in a household is already a member somewhere; staff never join one.
    m.row(
        Method::POST,
        &path,
        |_| Some(json!({"message": "加入希望"})),
        [401, 409, 409, 409, 409, 409, 409, 409, 409, 403, 403, 201],
    )
    .await;
    let (_, e) = m
        .cell(Who::ResidentH2, Method::POST, &path, Some(json!({})), 409)
        .await;
    m.check(
        e["error"] == "already_member",
        format!("member in a household: {e}"),
    );
    let (_, e) = m
        .cell(Who::NoHousehold, Method::POST, &path, Some(json!({})), 409)
        .await;
    m.check(
        e["error"] == "already_requested",
        format!("second pending request: {e}"),
    );

    let (_, listed) = m.row_get_listing(&path).await;
    m.check(
        items(&listed).iter().any(|r| {
            r["member_id"] == city.no_household.id.as_str()
                && r["status"] == "pending"
                && r["display_name"] == city.no_household.display_name.as_str()
        }),
        format!("the request is listed: {listed}"),
    );

    let decide = [401, 404, 404, 404, 200, 200, 404, 404, 404, 404, 200, 404];
    for action in ["approve", "decline"] {
        for (who, status) in Who::ALL.into_iter().zip(decide) {
            let id = fresh_join_request(&app, &city, &format!("{action}-{}", who.tag())).await;
            let (_, body) = m
                .cell(
                    who,
                    Method::POST,
                    &format!("/api/v1/join-requests/{id}/{action}"),
                    Some(json!({})),
                    status,
                )
                .await;
            if status == 200 {
                let expected = if action == "approve" {
                    "approved"
                } else {
                    "declined"
                };
                m.check(
                    body["status"] == expected,
                    format!("{action} as {}: {body}", who.tag()),
                );
            }
        }
    }
    m.cell(
        Who::Admin,
        Method::POST,
        &format!("/api/v1/join-requests/{}/approve", kairan::domain::new_id()),
        Some(json!({})),
        404,
    )
    .await;
    m.finish();
}

#[tokio::test]
async fn officer_roles_are_given_and_ended_by_the_chair_city_staff_and_admin() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/officers", city.association_a);

    let give = [401, 403, 403, 403, 403, 201, 403, 403, 403, 201, 201, 403];
    for (who, status) in Who::ALL.into_iter().zip(give) {
        let member = m
            .fresh_resident(&city.association_a, &format!("give-{}", who.tag()))
            .await;
        let (_, body) = m
            .cell(
                who,
                Method::POST,
                &path,
                Some(json!({"member_id": member.id, "role": "officer"})),
                status,
            )
            .await;
        if status == 201 {
            m.check(
                body["member_id"] == member.id.as_str() && body["role"] == "officer",
                format!("assignment by {}: {body}", who.tag()),
            );
            let me = app.me(&member).await;
            m.check(
                me["roles"].as_array().unwrap().iter().any(|r| {
                    r["role"] == "officer" && r["scope_id"] == city.association_a.as_str()
                }),
                format!("the new officer's roles: {me}"),
            );
        }
    }
    let han_leader = m.fresh_resident(&city.association_a, "han-leader-2").await;
    let (_, body) = m
        .cell(
            Who::ChairA,
            Method::POST,
            &path,
            Some(
                json!({"member_id": han_leader.id, "role": "han_leader", "scope_id": city.han_h2}),
            ),
            201,
        )
        .await;
    m.check(
        body["scope_id"] == city.han_h2.as_str(),
        format!("han leader scope: {body}"),
    );
    let (_, e) = m
        .cell(
            Who::ChairA,
            Method::POST,
            &path,
            Some(json!({"member_id": city.officer_b.id, "role": "officer"})),
            422,
        )
        .await;
    m.check(
        e["error"] == "not_a_member",
        format!("officer of B into A: {e}"),
    );

    let roles_path = format!("/api/v1/associations/{}/roles", city.association_a);
    m.row(Method::GET, &roles_path, no_body, A_OFFICERS).await;

    let end = [401, 404, 404, 404, 404, 204, 404, 404, 404, 204, 204, 404];
    let mut ended = Vec::new();
    for (who, status) in Who::ALL.into_iter().zip(end) {
        let member = m
            .fresh_resident(&city.association_a, &format!("end-{}", who.tag()))
            .await;
        let assignment = expect_json(
            app.post_as(
                &city.admin,
                &path,
                &json!({"member_id": member.id, "role": "officer"}),
            )
            .await,
            201,
        )
        .await;
        let id = str_field(&assignment, "id");
        m.cell(
            who,
            Method::DELETE,
            &format!("/api/v1/role-assignments/{id}"),
            None,
            status,
        )
        .await;
        ended.push((id, status == 204));
    }
    let (_, roles) = m
        .cell(Who::Admin, Method::GET, &roles_path, None, 200)
        .await;
    for (id, was_ended) in ended {
        let row = items(&roles).into_iter().find(|r| r["id"] == id.as_str());
        m.check(
            row.is_some(),
            format!("assignment {id} is kept in the history"),
        );
        let row = row.unwrap_or_default();
        m.check(
            row["ended_at"].is_null() != was_ended,
            format!("assignment {id}: ended {was_ended}, row {row}"),
        );
    }
    m.finish();
}

#[tokio::test]
async fn handover_is_for_the_chair_city_staff_and_admin() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/handover", city.association_a);
    let next_year = kairan::domain::fiscal_year(chrono::Utc::now().naive_utc()) + 1;

    let expected = [401, 403, 403, 403, 403, 200, 403, 403, 403, 200, 200, 403];
    for (who, status) in Who::ALL.into_iter().zip(expected) {
        let officer = m
            .fresh_resident(&city.association_a, &format!("ho-o-{}", who.tag()))
            .await;
        let chair = m
            .fresh_resident(&city.association_a, &format!("ho-c-{}", who.tag()))
            .await;
        let body = json!({"term_year": next_year, "assignments": [
            {"member_id": officer.id, "role": "officer"},
            {"member_id": chair.id, "role": "chair"},
        ]});
        let (_, answer) = m.cell(who, Method::POST, &path, Some(body), status).await;
        if status == 200 {
            m.check(
                answer["started"].as_array().is_some_and(|s| s.len() == 2),
                format!("handover by {} started two roles: {answer}", who.tag()),
            );
        }
    }
    m.finish();
}

#[tokio::test]
async fn roster_csv_is_for_the_associations_officers() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let path = format!("/api/v1/associations/{}/roster.csv", city.association_a);

    m.row(Method::GET, &path, no_body, A_OFFICERS).await;
    let csv = "han,label,paper\n三班,取込宅,no\n";
    for (who, status) in Who::ALL.into_iter().zip(A_OFFICERS) {
        m.csv_cell(who, &path, csv, status).await;
    }
    m.finish();
}

#[tokio::test]
async fn district_officers_staff_accounts_and_the_audit_log_are_for_the_city() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);

    let path = format!("/api/v1/districts/{}/officers", city.district_1);
    let expected = [401, 403, 403, 403, 403, 403, 403, 403, 403, 201, 201, 403];
    for (who, status) in Who::ALL.into_iter().zip(expected) {
        let member = m
            .fresh_resident(&city.association_b, &format!("d-{}", who.tag()))
            .await;
        let (_, body) = m
            .cell(
                who,
                Method::POST,
                &path,
                Some(json!({"member_id": member.id})),
                status,
            )
            .await;
        if status == 201 {
            m.check(
                body["role"] == "district_officer" && body["scope_id"] == city.district_1.as_str(),
                format!("district officer assignment: {body}"),
            );
        }
    }

    m.row(
        Method::POST,
        "/api/v1/staff",
        |who| {
            Some(
                json!({"login": format!("staff.{}@city.kanazawa.test", who.tag()),
                        "password": "Shokuin-Pass-4242", "display_name": "職員",
                        "role": "city_staff"}),
            )
        },
        [401, 403, 403, 403, 403, 403, 403, 403, 403, 403, 201, 403],
    )
    .await;
    m.cell(
        Who::CityStaff,
        Method::POST,
        "/api/v1/staff",
        Some(
            json!({"login": "escalate@city.kanazawa.test", "password": "Shokuin-Pass-4242",
                    "display_name": "昇格", "role": "admin"}),
        ),
        403,
    )
    .await;

    m.row(
        Method::GET,
        &format!("/api/v1/audit-log?association_id={}", city.association_a),
        no_body,
        [401, 403, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403],
    )
    .await;
    m.finish();
}

#[tokio::test]
async fn another_associations_officer_cannot_reach_into_a() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let b = &city.association_b;
    let a = &city.association_a;

    m.cell(
        Who::OfficerB,
        Method::PATCH,
        &format!("/api/v1/households/{}", city.household_h1_resident),
        Some(json!({"label": "乗っ取り"})),
        404,
    )
    .await;

    let (invitation, code) = app.invite(&city.officer_a, a, json!({})).await;
    m.cell(
        Who::OfficerB,
        Method::DELETE,
        &format!("/api/v1/invitations/{invitation}"),
        None,
        404,
    )
    .await;
    // Still good.
    app.register_actor(Some(&code), "still.invited@kairan.test", "まだ有効")
        .await;

    let request = fresh_join_request(&app, &city, "cross").await;
    for action in ["approve", "decline"] {
        m.cell(
            Who::OfficerB,
            Method::POST,
            &format!("/api/v1/join-requests/{request}/{action}"),
            Some(json!({})),
            404,
        )
        .await;
    }
    let (_, listed) = m
        .cell(
            Who::OfficerA,
            Method::GET,
            &format!("/api/v1/associations/{a}/join-requests"),
            None,
            200,
        )
        .await;
    m.check(
        items(&listed)
            .iter()
            .any(|r| r["id"] == request.as_str() && r["status"] == "pending"),
        format!("the request is still pending: {listed}"),
    );

    m.cell(
        Who::OfficerB,
        Method::POST,
        &format!("/api/v1/associations/{a}/households"),
        Some(json!({"label": "侵入宅", "han_id": city.han_h1})),
        403,
    )
    .await;
    let (_, e) = m
        .cell(
            Who::OfficerB,
            Method::POST,
            &format!("/api/v1/associations/{b}/households"),
            Some(json!({"label": "越境宅", "han_id": city.han_h1})),
            422,
        )
        .await;
    m.check(e["error"] == "unknown_han", format!("han of A in B: {e}"));
    let (_, e) = m
        .cell(
            Who::OfficerB,
            Method::POST,
            &format!("/api/v1/associations/{b}/invitations"),
            Some(json!({"household_id": city.household_h1_resident})),
            422,
        )
        .await;
    m.check(
        e["error"] == "unknown_household",
        format!("household of A in B's invitation: {e}"),
    );

    let roles = expect_json(
        app.get_as(&city.admin, &format!("/api/v1/associations/{a}/roles"))
            .await,
        200,
    )
    .await;
    let officer_role = items(&roles)
        .into_iter()
        .find(|r| r["member_id"] == city.officer_a.id.as_str() && r["role"] == "officer")
        .expect("officer A's role is listed");
    m.cell(
        Who::OfficerB,
        Method::DELETE,
        &format!(
            "/api/v1/role-assignments/{}",
            str_field(&officer_role, "id")
        ),
        None,
        404,
    )
    .await;
    // Officer A still is one.
    m.cell(
        Who::OfficerA,
        Method::GET,
        &format!("/api/v1/associations/{a}/members"),
        None,
        200,
    )
    .await;

    // Neither the district officer of A's district nor officer C sees A's roster.
    for who in [Who::DistrictOfficer, Who::OfficerC] {
        for endpoint in [
            "households",
            "members",
            "roles",
            "invitations",
            "join-requests",
            "roster.csv",
        ] {
            m.cell(
                who,
                Method::GET,
                &format!("/api/v1/associations/{a}/{endpoint}"),
                None,
                403,
            )
            .await;
        }
    }
    m.finish();
}

/// Officers and chair of A, and the admin, acting on a member of A (others: 404).
const A_MEMBER_ACCESS: Row = [401, 404, 404, 404, 200, 200, 404, 404, 404, 404, 200, 404];

#[tokio::test]
async fn member_access_is_for_as_roster_keepers_and_ones_own_account_for_everyone() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let association = city.association_a.clone();
    for (who, status) in Who::ALL.into_iter().zip(A_MEMBER_ACCESS) {
        let member = m
            .fresh_resident(&association, &format!("off-{}", who.tag()))
            .await;
        let path = format!("/api/v1/members/{}/disable", member.id);
        m.cell(who, Method::POST, &path, None, status).await;

        let member = m
            .fresh_resident(&association, &format!("on-{}", who.tag()))
            .await;
        let disable = format!("/api/v1/members/{}/disable", member.id);
        m.cell(Who::Admin, Method::POST, &disable, None, 200).await;
        let path = format!("/api/v1/members/{}/enable", member.id);
        m.cell(who, Method::POST, &path, None, status).await;

        let member = m
            .fresh_resident(&association, &format!("gone-{}", who.tag()))
            .await;
        let path = format!("/api/v1/members/{}", member.id);
        let removed = if status == 200 { 204 } else { status };
        m.cell(who, Method::DELETE, &path, None, removed).await;
    }
    // Nobody shuts out someone whose role they could not end, nor themselves.
    let on_chair = format!("/api/v1/members/{}/disable", city.chair_a.id);
    m.cell(Who::OfficerA, Method::POST, &on_chair, None, 404)
        .await;
    let on_leader = format!("/api/v1/members/{}", city.han_leader_h1.id);
    m.cell(Who::OfficerA, Method::DELETE, &on_leader, None, 404)
        .await;
    let on_self = format!("/api/v1/members/{}/disable", city.chair_a.id);
    m.cell(Who::ChairA, Method::POST, &on_self, None, 404).await;

    // One's own account: every signed-in member, nobody else's.
    let wrong =
        json!({"current_password": "not-the-password-1", "new_password": "Shin-Pass-2027-x"});
    let mut own = [422; 12];
    own[0] = 401;
    m.row(
        Method::POST,
        "/api/v1/me/password",
        |_| Some(wrong.clone()),
        own,
    )
    .await;
    let mut own = [204; 12];
    own[0] = 401;
    m.row(Method::POST, "/api/v1/me/sign-out-everywhere", no_body, own)
        .await;
    m.finish();
}

#[tokio::test]
async fn a_residents_me_shows_only_their_own_household() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let response = app.get_as(&city.resident_h2, "/api/v1/me").await;
    let text = response.text().await.unwrap();
    let me: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(me["household_id"], city.household_h2_resident.as_str());
    for other in [
        &city.household_h1_leader,
        &city.household_h1_resident,
        &city.household_h1_paper,
        &city.household_b,
    ] {
        assert!(!text.contains(other.as_str()), "{text}");
    }
    for actor in [
        &city.resident_h1,
        &city.han_leader_h1,
        &city.officer_a,
        &city.chair_a,
    ] {
        assert!(
            !text.contains(&actor.login) && !text.contains(&actor.display_name),
            "{text}"
        );
        assert!(!text.contains(&actor.id), "{text}");
    }
    for label in ["班長宅イチ", "住民宅イチ", "紙回覧宅イチ"] {
        assert!(!text.contains(label), "{text}");
    }
}

#[tokio::test]
async fn roles_hans_and_households_of_another_association_are_refused() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let a = &city.association_a;
    let b_han =
        crate::fixtures::create_han(&app, &city.officer_b, &city.association_b, "B一班").await;

    // Moving A's household into B's han.
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::PATCH,
            &format!("/api/v1/households/{}", city.household_h1_resident),
            Some(json!({"han_id": b_han})),
            422,
        )
        .await;
    m.check(
        e["error"] == "unknown_han",
        format!("B's han for A's household: {e}"),
    );

    // Approving into B's household.
    let request = fresh_join_request(&app, &city, "wrong-household").await;
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &format!("/api/v1/join-requests/{request}/approve"),
            Some(json!({"household_id": city.household_b})),
            422,
        )
        .await;
    m.check(
        e["error"] == "unknown_household",
        format!("B's household: {e}"),
    );
    let (_, e) = m
        .cell(
            Who::OfficerA,
            Method::POST,
            &format!("/api/v1/join-requests/{request}/approve"),
            Some(json!({"han_id": b_han})),
            422,
        )
        .await;
    m.check(e["error"] == "unknown_han", format!("B's han: {e}"));
    let (_, listed) = m
        .cell(
            Who::OfficerA,
            Method::GET,
            &format!("/api/v1/associations/{a}/join-requests"),
            None,
            200,
        )
        .await;
    m.check(
        items(&listed)
            .iter()
            .any(|r| r["id"] == request.as_str() && r["status"] == "pending"),
        format!("a refused approval leaves the request pending: {listed}"),
    );

    // Roles: only officer, chair and han leader, and a han leader's han must be A's.
    let officers = format!("/api/v1/associations/{a}/officers");
    for role in [
        "admin",
        "city_staff",
        "district_officer",
        "resident",
        "boss",
    ] {
        m.cell(
            Who::ChairA,
            Method::POST,
            &officers,
            Some(json!({"member_id": city.resident_h1.id, "role": role})),
            422,
        )
        .await;
    }
    m.cell(
        Who::ChairA,
        Method::POST,
        &officers,
        Some(json!({"member_id": city.resident_h1.id, "role": "han_leader", "scope_id": b_han})),
        422,
    )
    .await;
    let me = app.me(&city.resident_h1).await;
    m.check(
        me["roles"].as_array().map(Vec::len) == Some(1),
        format!("resident H1 gained no role: {me}"),
    );

    // Staff accounts: only city_staff or admin.
    for role in ["officer", "chair", "resident", "root"] {
        m.cell(
            Who::Admin,
            Method::POST,
            "/api/v1/staff",
            Some(json!({"login": format!("{role}.staff@city.kanazawa.test"),
                        "password": "Shokuin-Pass-4242", "display_name": "職員", "role": role})),
            422,
        )
        .await;
    }
    // A district officer needs a member and a district.
    m.cell(
        Who::CityStaff,
        Method::POST,
        &format!("/api/v1/districts/{}/officers", city.district_1),
        Some(json!({"member_id": kairan::domain::new_id()})),
        422,
    )
    .await;
    m.finish();
}

/// A safety check of association A started by its officer.
async fn safety_check_of_a(app: &TestApp, city: &City) -> String {
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
    str_field(&created, "id")
}

#[tokio::test]
async fn safety_checks_follow_the_posting_rules_and_the_status_rules() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let a_scope = json!({"scope": {"kind": "association", "id": city.association_a},
                         "message": "安否確認"});

    m.row(
        Method::POST,
        "/api/v1/safety-checks",
        |_| Some(a_scope.clone()),
        A_OFFICERS_CREATE,
    )
    .await;
    m.row(Method::GET, "/api/v1/safety-checks", no_body, ANY_MEMBER)
        .await;

    let check = safety_check_of_a(&app, &city).await;
    let path = format!("/api/v1/safety-checks/{check}");
    m.row(
        Method::GET,
        &path,
        no_body,
        [401, 200, 200, 200, 200, 200, 404, 404, 200, 200, 200, 404],
    )
    .await;
    m.row(
        Method::GET,
        &format!("{path}/status"),
        no_body,
        [401, 404, 404, 200, 200, 200, 404, 404, 200, 200, 200, 404],
    )
    .await;
    m.row(
        Method::POST,
        &format!("{path}/answers"),
        |_| Some(json!({"status": "safe"})),
        [401, 204, 204, 204, 204, 204, 404, 404, 404, 404, 404, 404],
    )
    .await;
    m.row(
        Method::POST,
        &format!("{path}/answers"),
        |_| Some(json!({"status": "needs_help", "household_id": city.household_h1_paper})),
        [401, 404, 404, 204, 204, 204, 404, 404, 404, 404, 204, 404],
    )
    .await;
    m.row(
        Method::GET,
        &format!("{path}/households/{}/answers", city.household_h1_paper),
        no_body,
        [401, 404, 404, 200, 200, 200, 404, 404, 404, 404, 200, 404],
    )
    .await;
    m.row(
        Method::POST,
        &format!("{path}/reminders"),
        |_| Some(json!({})),
        [401, 404, 404, 202, 202, 202, 404, 404, 202, 202, 202, 404],
    )
    .await;

    let close = [401, 403, 403, 403, 204, 403, 404, 404, 403, 403, 204, 404];
    for (who, status) in Who::ALL.into_iter().zip(close) {
        let check = safety_check_of_a(&app, &city).await;
        m.cell(
            who,
            Method::POST,
            &format!("/api/v1/safety-checks/{check}/close"),
            Some(json!({})),
            status,
        )
        .await;
    }
    m.cell(
        Who::Admin,
        Method::GET,
        &format!("/api/v1/safety-checks/{}/status", kairan::domain::new_id()),
        None,
        404,
    )
    .await;
    m.finish();
}

/// A published circular to `scope` (with `han_ids` if any) asking for confirmation.
async fn circular(app: &TestApp, by: &Actor, scope: Value, hans: &[&str]) -> String {
    let body = json!({"scope": scope, "han_ids": hans, "title": "回覧: 会費の振込先",
                      "body": "振込先は後日お知らせします。", "requires_confirmation": true});
    str_field(
        &expect_json(app.post_as(by, "/api/v1/posts", &body).await, 201).await,
        "id",
    )
}

/// The id of the member's current `role` assignment in association A.
async fn role_assignment(app: &TestApp, city: &City, member: &Actor, role: &str) -> String {
    let path = format!("/api/v1/associations/{}/roles", city.association_a);
    let history = expect_json(app.get_as(&city.admin, &path).await, 200).await;
    items(&history)
        .iter()
        .find(|r| r["member_id"] == member.id.as_str() && r["role"] == role)
        .map(|r| str_field(r, "id"))
        .unwrap_or_else(|| panic!("no {role} role for {}: {history}", member.login))
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

#[tokio::test]
async fn posts_are_managed_by_whoever_may_post_to_their_audience_now() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let mut m = Matrix::new(&app, &city);
    let a_scope = json!({"kind": "association", "id": city.association_a});
    let post = circular(&app, &city.officer_a, a_scope.clone(), &[]).await;
    let path = format!("/api/v1/posts/{post}");
    let managers = [401, 404, 404, 404, 200, 200, 404, 404, 404, 404, 200, 404];

    m.row(
        Method::PATCH,
        &path,
        |who| Some(json!({"title": format!("回覧: 振込先の訂正 ({})", who.tag())})),
        managers,
    )
    .await;
    m.row(Method::GET, &format!("{path}/versions"), no_body, managers)
        .await;
    m.row(
        Method::GET,
        &format!("{path}/deliveries"),
        no_body,
        managers,
    )
    .await;
    m.row(
        Method::POST,
        &format!("{path}/reminders"),
        |_| Some(json!({})),
        [401, 404, 404, 202, 202, 202, 404, 404, 404, 404, 202, 404],
    )
    .await;
    let attach = [401, 404, 404, 404, 201, 201, 404, 404, 404, 404, 201, 404];
    for (who, status) in Who::ALL.into_iter().zip(attach) {
        let upload = format!("{path}/attachments?file_name=furikomi.pdf");
        m.raw_cell(who, &upload, "application/pdf", PDF.to_vec(), status)
            .await;
    }
    let withdraw = [401, 404, 404, 404, 204, 204, 404, 404, 404, 404, 204, 404];
    for (who, status) in Who::ALL.into_iter().zip(withdraw) {
        let post = circular(&app, &city.officer_a, a_scope.clone(), &[]).await;
        let path = format!("/api/v1/posts/{post}/withdraw");
        m.cell(who, Method::POST, &path, Some(json!({})), status)
            .await;
    }

    // A 班長's circular to their 班: they, the association's officers and the admin.
    let han_post = circular(&app, &city.han_leader_h1, a_scope, &[&city.han_h1]).await;
    m.row(
        Method::PATCH,
        &format!("/api/v1/posts/{han_post}"),
        |_| Some(json!({"title": "回覧: 班の清掃日"})),
        [401, 404, 404, 200, 200, 200, 404, 404, 404, 404, 200, 404],
    )
    .await;
    m.finish();
}

/// Finding 2 of issue 20: an ex-officer rewrote a published circular, sent reminders and
/// attached a file after their role ended.
#[tokio::test]
async fn an_author_whose_role_ended_no_longer_manages_their_posts() {
    let app = spawn_app().await;
    let city = City::build(&app).await;
    let a_scope = json!({"kind": "association", "id": city.association_a});
    let officers_post = circular(&app, &city.officer_a, a_scope.clone(), &[]).await;
    let leaders_post = circular(&app, &city.han_leader_h1, a_scope, &[&city.han_h1]).await;
    for (member, role) in [
        (&city.officer_a, "officer"),
        (&city.han_leader_h1, "han_leader"),
    ] {
        let assignment = role_assignment(&app, &city, member, role).await;
        let ended = app
            .delete_as(
                &city.admin,
                &format!("/api/v1/role-assignments/{assignment}"),
            )
            .await;
        assert_eq!(ended.status(), 204, "ending the {role} role");
    }

    let mut m = Matrix::new(&app, &city);
    for (who, post) in [
        (Who::OfficerA, &officers_post),
        (Who::HanLeaderH1, &leaders_post),
    ] {
        let path = format!("/api/v1/posts/{post}");
        m.cell(
            who,
            Method::PATCH,
            &path,
            Some(json!({"body": "新しい振込先: 偽銀行"})),
            404,
        )
        .await;
        m.cell(
            who,
            Method::POST,
            &format!("{path}/reminders"),
            Some(json!({})),
            404,
        )
        .await;
        m.raw_cell(
            who,
            &format!("{path}/attachments?file_name=furikomi.pdf"),
            "application/pdf",
            PDF.to_vec(),
            404,
        )
        .await;
        m.cell(who, Method::GET, &format!("{path}/versions"), None, 404)
            .await;
        m.cell(
            who,
            Method::POST,
            &format!("{path}/withdraw"),
            Some(json!({})),
            404,
        )
        .await;
        // The association's chair, who may post there now, takes the circular over.
        m.cell(
            Who::ChairA,
            Method::PATCH,
            &path,
            Some(json!({"title": "回覧: 引き継ぎ"})),
            200,
        )
        .await;
    }
    m.finish();
}
