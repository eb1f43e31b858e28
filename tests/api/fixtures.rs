//! A small city built through the HTTP API (only the very first admin is written directly),
//! with one signed-in actor per role, and request helpers that act as one of them.

use std::path::Path;

use kairan::configuration::{AppEnvironment, load};
use reqwest::{Method, Response};
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// A signed-in member.
#[derive(Debug, Clone)]
pub struct Actor {
    pub login: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
    pub id: String,
    pub display_name: String,
}

/// Every actor of the role × endpoint matrix, in the matrix's column order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    Anonymous,
    ResidentH1,
    ResidentH2,
    HanLeaderH1,
    OfficerA,
    ChairA,
    OfficerB,
    OfficerC,
    DistrictOfficer,
    CityStaff,
    Admin,
    NoHousehold,
}

impl Who {
    pub const ALL: [Who; 12] = [
        Who::Anonymous,
        Who::ResidentH1,
        Who::ResidentH2,
        Who::HanLeaderH1,
        Who::OfficerA,
        Who::ChairA,
        Who::OfficerB,
        Who::OfficerC,
        Who::DistrictOfficer,
        Who::CityStaff,
        Who::Admin,
        Who::NoHousehold,
    ];

    pub fn tag(self) -> &'static str {
        match self {
            Who::Anonymous => "anonymous",
            Who::ResidentH1 => "resident-h1",
            Who::ResidentH2 => "resident-h2",
            Who::HanLeaderH1 => "han-leader-h1",
            Who::OfficerA => "officer-a",
            Who::ChairA => "chair-a",
            Who::OfficerB => "officer-b",
            Who::OfficerC => "officer-c",
            Who::DistrictOfficer => "district-officer",
            Who::CityStaff => "city-staff",
            Who::Admin => "admin",
            Who::NoHousehold => "no-household",
        }
    }
}

pub const ADMIN_LOGIN: &str = "admin@kairan.test";
pub const ADMIN_PASSWORD: &str = "Kanri-Sha-Pass-2026";
pub const PASSWORD: &str = "Hyakuman-Goku-77";

pub struct City {
    pub admin: Actor,
    pub staff: Actor,
    pub chair_a: Actor,
    pub officer_a: Actor,
    pub han_leader_h1: Actor,
    pub resident_h1: Actor,
    pub resident_h2: Actor,
    pub officer_b: Actor,
    pub officer_c: Actor,
    pub district_officer: Actor,
    pub no_household: Actor,
    pub district_1: String,
    pub district_2: String,
    pub association_a: String,
    pub association_b: String,
    pub association_c: String,
    pub han_h1: String,
    pub han_h2: String,
    /// Households of A made by the admin (the chair's and officer's own households are made
    /// at registration, labelled with their names).
    pub household_h1_leader: String,
    pub household_h1_resident: String,
    pub household_h1_paper: String,
    pub household_h2_resident: String,
    pub household_b: String,
    pub labels_a: Vec<String>,
}

/// Creates an admin directly in the database, as `kairan admin create` does. Returns the id.
pub fn create_admin_directly(app: &TestApp, login: &str, password: &str) -> String {
    let settings = load(AppEnvironment::Test, Path::new("config"), false)
        .unwrap()
        .password;
    let hash =
        kairan::auth::password::hash_password(&settings, &SecretString::from(password.to_string()))
            .unwrap();
    let member = kairan::db::queries::accounts::create_staff(
        &mut app.db.get().unwrap(),
        &kairan::domain::Login::parse(login).unwrap(),
        "管理者",
        &hash,
        kairan::domain::Role::Admin,
        None,
    )
    .unwrap();
    member.id.to_string()
}

pub async fn create_association(app: &TestApp, by: &Actor, district: &str, name: &str) -> String {
    let body = json!({"district_id": district, "name": name, "member_households": 120});
    let created = expect_json(app.post_as(by, "/api/v1/associations", &body).await, 201).await;
    str_field(&created, "id")
}

pub async fn create_han(app: &TestApp, by: &Actor, association: &str, name: &str) -> String {
    let path = format!("/api/v1/associations/{association}/hans");
    let created = expect_json(app.post_as(by, &path, &json!({"name": name})).await, 201).await;
    str_field(&created, "id")
}

pub async fn create_household(
    app: &TestApp,
    by: &Actor,
    association: &str,
    label: &str,
    han_id: Option<&str>,
    paper: bool,
) -> String {
    let path = format!("/api/v1/associations/{association}/households");
    let body = json!({"label": label, "han_id": han_id, "paper": paper});
    let created = expect_json(app.post_as(by, &path, &body).await, 201).await;
    str_field(&created, "id")
}

/// Asserts the status and returns the JSON body (Null when empty), showing the body on failure.
pub async fn expect_json(response: Response, status: u16) -> Value {
    let actual = response.status().as_u16();
    let url = response.url().to_string();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(actual, status, "{url}: {text}");
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

pub fn str_field(value: &Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no string field {field} in {value}"))
        .to_string()
}

impl TestApp {
    pub async fn send_as(
        &self,
        method: Method,
        actor: Option<&Actor>,
        path: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(actor) = actor {
            request = request.bearer_auth(&actor.access_token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request sent")
    }

    pub async fn get_as(&self, actor: &Actor, path: &str) -> Response {
        self.send_as(Method::GET, Some(actor), path, None).await
    }

    pub async fn post_as(&self, actor: &Actor, path: &str, body: &Value) -> Response {
        self.send_as(Method::POST, Some(actor), path, Some(body))
            .await
    }

    pub async fn patch_as(&self, actor: &Actor, path: &str, body: &Value) -> Response {
        self.send_as(Method::PATCH, Some(actor), path, Some(body))
            .await
    }

    pub async fn delete_as(&self, actor: &Actor, path: &str) -> Response {
        self.send_as(Method::DELETE, Some(actor), path, None).await
    }

    /// POST without a token.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.send_as(Method::POST, None, path, Some(body)).await
    }

    pub async fn login(&self, login: &str, password: &str) -> Response {
        self.post_json(
            "/api/v1/auth/login",
            &json!({"login": login, "password": password}),
        )
        .await
    }

    pub async fn register(
        &self,
        invitation_code: Option<&str>,
        login: &str,
        password: &str,
        display_name: &str,
    ) -> Response {
        let mut body = json!({"login": login, "password": password, "display_name": display_name});
        if let Some(code) = invitation_code {
            body["invitation_code"] = json!(code);
        }
        self.post_json("/api/v1/auth/register", &body).await
    }

    /// Completes an actor from a token pair: who the token belongs to comes from GET /me.
    pub async fn actor_from_tokens(&self, tokens: &Value, login: &str, password: &str) -> Actor {
        let access_token = str_field(tokens, "access_token");
        let refresh_token = str_field(tokens, "refresh_token");
        let me = self
            .client
            .get(self.url("/api/v1/me"))
            .bearer_auth(&access_token)
            .send()
            .await
            .unwrap();
        let me = expect_json(me, 200).await;
        Actor {
            login: login.to_string(),
            password: password.to_string(),
            access_token,
            refresh_token,
            id: str_field(&me, "id"),
            display_name: str_field(&me, "display_name"),
        }
    }

    /// Signs in and asserts it works.
    pub async fn sign_in(&self, login: &str, password: &str) -> Actor {
        let tokens = expect_json(self.login(login, password).await, 200).await;
        self.actor_from_tokens(&tokens, login, password).await
    }

    /// Registers and asserts it works.
    pub async fn register_actor(
        &self,
        invitation_code: Option<&str>,
        login: &str,
        display_name: &str,
    ) -> Actor {
        let tokens = expect_json(
            self.register(invitation_code, login, PASSWORD, display_name)
                .await,
            201,
        )
        .await;
        self.actor_from_tokens(&tokens, login, PASSWORD).await
    }

    /// An invitation of `association` made by `by`; returns (id, code).
    pub async fn invite(&self, by: &Actor, association: &str, body: Value) -> (String, String) {
        let created = expect_json(
            self.post_as(
                by,
                &format!("/api/v1/associations/{association}/invitations"),
                &body,
            )
            .await,
            201,
        )
        .await;
        (str_field(&created, "id"), str_field(&created, "code"))
    }

    /// A new member of `association`, invited by `by` into `household` (or a new household).
    pub async fn new_resident(
        &self,
        by: &Actor,
        association: &str,
        household: Option<&str>,
        login: &str,
        display_name: &str,
    ) -> Actor {
        let body = match household {
            Some(h) => json!({"household_id": h}),
            None => json!({}),
        };
        let (_, code) = self.invite(by, association, body).await;
        self.register_actor(Some(&code), login, display_name).await
    }

    pub async fn me(&self, actor: &Actor) -> Value {
        expect_json(self.get_as(actor, "/api/v1/me").await, 200).await
    }
}

impl City {
    /// A resident of association C (district 2), made when a test needs one.
    pub async fn resident_c(&self, app: &TestApp) -> Actor {
        app.new_resident(
            &self.officer_c,
            &self.association_c,
            None,
            "resident.c@kairan.test",
            "三丁目住民",
        )
        .await
    }

    /// The officer of A moves resident H1 into household H2 (a 班 of its own).
    pub async fn move_resident_h1_to_h2(&self, app: &TestApp) {
        let moved = app
            .patch_as(
                &self.officer_a,
                &format!("/api/v1/members/{}", self.resident_h1.id),
                &json!({"household_id": self.household_h2_resident}),
            )
            .await;
        assert_eq!(moved.status(), 200);
    }

    pub async fn build(app: &TestApp) -> City {
        create_admin_directly(app, ADMIN_LOGIN, ADMIN_PASSWORD);
        let admin = app.sign_in(ADMIN_LOGIN, ADMIN_PASSWORD).await;

        let staff_login = "shiyakusho@city.kanazawa.test";
        expect_json(
            app.post_as(
                &admin,
                "/api/v1/staff",
                &json!({"login": staff_login, "password": PASSWORD,
                        "display_name": "市民協働推進課", "role": "city_staff"}),
            )
            .await,
            201,
        )
        .await;
        let staff = app.sign_in(staff_login, PASSWORD).await;

        let districts = expect_json(app.get_as(&admin, "/api/v1/districts").await, 200).await;
        let items = districts["items"].as_array().unwrap();
        let district_1 = str_field(&items[0], "id");
        let district_2 = str_field(&items[1], "id");

        let association_a = create_association(app, &staff, &district_1, "テスト一丁目町会").await;
        let association_b = create_association(app, &staff, &district_1, "テスト二丁目町会").await;
        let association_c = create_association(app, &staff, &district_2, "テスト三丁目町会").await;

        let han_h1 = create_han(app, &admin, &association_a, "一班").await;
        let han_h2 = create_han(app, &admin, &association_a, "二班").await;

        let household_h1_leader = create_household(
            app,
            &admin,
            &association_a,
            "班長宅イチ",
            Some(&han_h1),
            false,
        )
        .await;
        let household_h1_resident = create_household(
            app,
            &admin,
            &association_a,
            "住民宅イチ",
            Some(&han_h1),
            false,
        )
        .await;
        let household_h1_paper = create_household(
            app,
            &admin,
            &association_a,
            "紙回覧宅イチ",
            Some(&han_h1),
            true,
        )
        .await;
        let household_h2_resident = create_household(
            app,
            &admin,
            &association_a,
            "住民宅ニ",
            Some(&han_h2),
            false,
        )
        .await;
        let household_b =
            create_household(app, &admin, &association_b, "二丁目住民宅", None, false).await;

        // The chair of A, invited by the admin; registering makes their own household in A.
        let (_, code) = app
            .invite(&admin, &association_a, json!({"role": "chair"}))
            .await;
        let chair_a = app
            .register_actor(Some(&code), "chair.a@kairan.test", "町会長一郎")
            .await;

        let (_, code) = app
            .invite(&chair_a, &association_a, json!({"role": "officer"}))
            .await;
        let officer_a = app
            .register_actor(Some(&code), "officer.a@kairan.test", "役員二郎")
            .await;

        let (_, code) = app
            .invite(
                &chair_a,
                &association_a,
                json!({"household_id": household_h1_leader, "role": "han_leader"}),
            )
            .await;
        let han_leader_h1 = app
            .register_actor(Some(&code), "hancho.h1@kairan.test", "班長三郎")
            .await;

        let resident_h1 = app
            .new_resident(
                &officer_a,
                &association_a,
                Some(&household_h1_resident),
                "resident.h1@kairan.test",
                "住民四郎",
            )
            .await;
        let resident_h2 = app
            .new_resident(
                &officer_a,
                &association_a,
                Some(&household_h2_resident),
                "09011112222",
                "住民五郎",
            )
            .await;

        let (_, code) = app
            .invite(&admin, &association_b, json!({"role": "officer"}))
            .await;
        let officer_b = app
            .register_actor(Some(&code), "officer.b@kairan.test", "二丁目役員六郎")
            .await;
        let (_, code) = app
            .invite(&admin, &association_c, json!({"role": "officer"}))
            .await;
        let officer_c = app
            .register_actor(Some(&code), "officer.c@kairan.test", "三丁目役員七郎")
            .await;

        let district_officer = app
            .new_resident(
                &officer_b,
                &association_b,
                Some(&household_b),
                "kouka.d1@kairan.test",
                "校下役員八郎",
            )
            .await;
        expect_json(
            app.post_as(
                &staff,
                &format!("/api/v1/districts/{district_1}/officers"),
                &json!({"member_id": district_officer.id}),
            )
            .await,
            201,
        )
        .await;

        let no_household = app
            .register_actor(None, "mishozoku@kairan.test", "未所属九郎")
            .await;

        let labels_a = [
            "班長宅イチ",
            "住民宅イチ",
            "紙回覧宅イチ",
            "住民宅ニ",
            "二丁目住民宅",
        ]
        .map(String::from)
        .to_vec();

        City {
            admin,
            staff,
            chair_a,
            officer_a,
            han_leader_h1,
            resident_h1,
            resident_h2,
            officer_b,
            officer_c,
            district_officer,
            no_household,
            district_1,
            district_2,
            association_a,
            association_b,
            association_c,
            han_h1,
            han_h2,
            household_h1_leader,
            household_h1_resident,
            household_h1_paper,
            household_h2_resident,
            household_b,
            labels_a,
        }
    }

    pub fn actor(&self, who: Who) -> Option<&Actor> {
        match who {
            Who::Anonymous => None,
            Who::ResidentH1 => Some(&self.resident_h1),
            Who::ResidentH2 => Some(&self.resident_h2),
            Who::HanLeaderH1 => Some(&self.han_leader_h1),
            Who::OfficerA => Some(&self.officer_a),
            Who::ChairA => Some(&self.chair_a),
            Who::OfficerB => Some(&self.officer_b),
            Who::OfficerC => Some(&self.officer_c),
            Who::DistrictOfficer => Some(&self.district_officer),
            Who::CityStaff => Some(&self.staff),
            Who::Admin => Some(&self.admin),
            Who::NoHousehold => Some(&self.no_household),
        }
    }

    /// Personal data that must never leak: logins and names of residents and association
    /// officers, and household labels.
    pub fn personal_data(&self) -> Vec<String> {
        let mut data = Vec::new();
        for actor in [
            &self.chair_a,
            &self.officer_a,
            &self.han_leader_h1,
            &self.resident_h1,
            &self.resident_h2,
            &self.officer_b,
            &self.officer_c,
            &self.district_officer,
            &self.no_household,
        ] {
            data.push(actor.login.clone());
            data.push(actor.display_name.clone());
        }
        data.extend(self.labels_a.iter().cloned());
        data
    }

    /// A household of A for tests that change one.
    pub fn households_a(&self) -> [&str; 4] {
        [
            self.household_h1_leader.as_str(),
            self.household_h1_resident.as_str(),
            self.household_h1_paper.as_str(),
            self.household_h2_resident.as_str(),
        ]
    }
}
