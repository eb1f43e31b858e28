//! The storage layer on whichever backend the suite runs against.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use kairan::db::models::*;
use kairan::db::schema::*;
use kairan::db::{AnyConnection, DatabaseUrl, Db, now, revert_all_migrations, run_migrations};
use kairan::domain::*;

use crate::helpers::TestDatabase;

fn open(database: &TestDatabase) -> Db {
    let settings = kairan::configuration::load(
        kairan::configuration::AppEnvironment::Test,
        std::path::Path::new("config"),
        false,
    )
    .unwrap();
    Db::connect(
        DatabaseUrl::parse(&database.url).unwrap(),
        &settings.database,
    )
    .unwrap()
}

fn table_count(conn: &mut AnyConnection) -> i64 {
    districts::table.count().get_result(conn).unwrap()
}

#[test]
fn migrations_run_revert_and_run_again() {
    let database = TestDatabase::fresh();
    let db = open(&database);
    let mut conn = db.get().unwrap();
    assert_eq!(table_count(&mut conn), 0);
    revert_all_migrations(&mut conn).unwrap();
    assert!(
        districts::table
            .count()
            .get_result::<i64>(&mut *conn)
            .is_err(),
        "tables are gone after revert"
    );
    run_migrations(&mut conn).unwrap();
    assert_eq!(table_count(&mut conn), 0);
}

/// Microseconds survive both backends unchanged.
fn instant() -> NaiveDateTime {
    now()
}

#[test]
fn every_table_round_trips_one_row() {
    let database = TestDatabase::fresh();
    let db = open(&database);
    let conn = &mut *db.get().unwrap();
    let t = instant();

    let district = District {
        id: DistrictId::generate(),
        code: "T01".into(),
        name: "試験".into(),
        name_kana: Some("しけん".into()),
        kominkan: None,
        reported_associations: Some(12),
        reported_households: None,
        checked: true,
        archived: false,
        merged_into_id: None,
        created_at: t,
        updated_at: t,
    };
    diesel::insert_into(districts::table)
        .values(&district)
        .execute(conn)
        .unwrap();
    assert_eq!(
        districts::table
            .select(District::as_select())
            .first(conn)
            .unwrap(),
        district
    );

    let association = Association {
        id: AssociationId::generate(),
        district_id: district.id.clone(),
        name: "第一町会".into(),
        name_kana: None,
        member_households: 120,
        area_households: Some(150),
        archived: false,
        created_at: t,
        updated_at: t,
    };
    diesel::insert_into(associations::table)
        .values(&association)
        .execute(conn)
        .unwrap();
    assert_eq!(
        associations::table
            .select(Association::as_select())
            .first(conn)
            .unwrap(),
        association
    );

    let han = Han {
        id: HanId::generate(),
        association_id: association.id.clone(),
        name: "1班".into(),
        created_at: t,
    };
    diesel::insert_into(hans::table)
        .values(&han)
        .execute(conn)
        .unwrap();
    assert_eq!(
        hans::table.select(Han::as_select()).first(conn).unwrap(),
        han
    );

    let household = Household {
        id: HouseholdId::generate(),
        association_id: association.id.clone(),
        han_id: Some(han.id.clone()),
        label: "山田家".into(),
        paper: true,
        created_at: t,
        updated_at: t,
    };
    diesel::insert_into(households::table)
        .values(&household)
        .execute(conn)
        .unwrap();
    assert_eq!(
        households::table
            .select(Household::as_select())
            .first(conn)
            .unwrap(),
        household
    );

    let member = Member {
        id: MemberId::generate(),
        household_id: Some(household.id.clone()),
        login: "taro@example.jp".into(),
        password_hash: "$argon2id$…".into(),
        display_name: "山田太郎".into(),
        disabled: false,
        created_at: t,
        updated_at: t,
    };
    diesel::insert_into(members::table)
        .values(&member)
        .execute(conn)
        .unwrap();
    assert_eq!(
        members::table
            .select(Member::as_select())
            .first(conn)
            .unwrap(),
        member
    );

    let role = RoleAssignment {
        id: RoleAssignmentId::generate(),
        member_id: member.id.clone(),
        role: Role::HanLeader,
        scope_id: Some(han.id.to_string()),
        term_year: 2026,
        granted_by: None,
        started_at: t,
        ended_at: Some(t),
    };
    diesel::insert_into(role_assignments::table)
        .values(&role)
        .execute(conn)
        .unwrap();
    assert_eq!(
        role_assignments::table
            .select(RoleAssignment::as_select())
            .first(conn)
            .unwrap(),
        role
    );

    let invitation = Invitation {
        id: InvitationId::generate(),
        association_id: association.id.clone(),
        code_hash: "abc".into(),
        household_id: None,
        role: Some(Role::Officer),
        max_uses: 3,
        uses: 1,
        expires_at: t,
        created_by: Some(member.id.clone()),
        created_at: t,
        revoked_at: None,
    };
    diesel::insert_into(invitations::table)
        .values(&invitation)
        .execute(conn)
        .unwrap();
    assert_eq!(
        invitations::table
            .select(Invitation::as_select())
            .first(conn)
            .unwrap(),
        invitation
    );

    let request = JoinRequest {
        id: JoinRequestId::generate(),
        association_id: association.id.clone(),
        member_id: member.id.clone(),
        message: "よろしくお願いします".into(),
        status: JoinRequestStatus::Pending,
        household_id: None,
        decided_by: None,
        decided_at: None,
        created_at: t,
    };
    diesel::insert_into(join_requests::table)
        .values(&request)
        .execute(conn)
        .unwrap();
    assert_eq!(
        join_requests::table
            .select(JoinRequest::as_select())
            .first(conn)
            .unwrap(),
        request
    );

    let entry = AuditEntry {
        id: AuditEntryId::generate(),
        actor_id: Some(member.id.clone()),
        action: "roster_read".into(),
        target_kind: "association".into(),
        target_id: Some(association.id.to_string()),
        association_id: Some(association.id.clone()),
        detail: kairan::db::Json(serde_json::json!({"rows": 1})),
        created_at: t,
    };
    diesel::insert_into(audit_log::table)
        .values(&entry)
        .execute(conn)
        .unwrap();
    assert_eq!(
        audit_log::table
            .select(AuditEntry::as_select())
            .first(conn)
            .unwrap(),
        entry
    );

    let key = IdempotencyKey {
        member_id: member.id.clone(),
        idempotency_key: "k-1".into(),
        request_hash: "ab".repeat(32),
        response_status: Some(201),
        response_content_type: Some("application/json".into()),
        response_body: Some(vec![0, 159, 146, 150, b'{', b'}']),
        created_at: t,
        expires_at: t,
    };
    diesel::insert_into(idempotency_keys::table)
        .values(&key)
        .execute(conn)
        .unwrap();
    assert_eq!(
        idempotency_keys::table
            .select(IdempotencyKey::as_select())
            .first(conn)
            .unwrap(),
        key
    );
    let check = SafetyCheck {
        id: SafetyCheckId::generate(),
        started_by: member.id.clone(),
        tier: Tier::Association,
        scope_id: Some(association.id.to_string()),
        message: "地震がありました。ご無事ですか。".into(),
        started_at: t,
        closed_at: Some(t),
        closed_by: Some(member.id.clone()),
    };
    diesel::insert_into(safety_checks::table)
        .values(&check)
        .execute(conn)
        .unwrap();
    assert_eq!(
        safety_checks::table
            .select(SafetyCheck::as_select())
            .first(conn)
            .unwrap(),
        check
    );
    let check_han = SafetyCheckHan {
        safety_check_id: check.id.clone(),
        han_id: han.id.clone(),
    };
    diesel::insert_into(safety_check_hans::table)
        .values(&check_han)
        .execute(conn)
        .unwrap();
    assert_eq!(
        safety_check_hans::table
            .select(SafetyCheckHan::as_select())
            .first(conn)
            .unwrap(),
        check_han
    );
    let audience = SafetyCheckAudience {
        scope_key: AudienceKey::han(&han.id),
        safety_check_id: check.id.clone(),
    };
    diesel::insert_into(safety_check_audiences::table)
        .values(&audience)
        .execute(conn)
        .unwrap();
    assert_eq!(
        safety_check_audiences::table
            .select(SafetyCheckAudience::as_select())
            .first(conn)
            .unwrap(),
        audience
    );
    let answer = SafetyAnswer {
        safety_check_id: check.id.clone(),
        household_id: household.id.clone(),
        status: SafetyStatus::NeedsHelp,
        note: Some("薬が必要".into()),
        answered_by: member.id.clone(),
        on_behalf: true,
        answered_at: t,
    };
    diesel::insert_into(safety_answers::table)
        .values(&answer)
        .execute(conn)
        .unwrap();
    assert_eq!(
        safety_answers::table
            .select(SafetyAnswer::as_select())
            .first(conn)
            .unwrap(),
        answer
    );
    let record = SafetyAnswerRecord {
        id: kairan::domain::new_id(),
        safety_check_id: check.id.clone(),
        household_id: household.id.clone(),
        status: SafetyStatus::Safe,
        note: None,
        answered_by: member.id.clone(),
        on_behalf: false,
        answered_at: t,
    };
    diesel::insert_into(safety_answer_history::table)
        .values(&record)
        .execute(conn)
        .unwrap();
    assert_eq!(
        safety_answer_history::table
            .select(SafetyAnswerRecord::as_select())
            .first(conn)
            .unwrap(),
        record
    );

    let month = StatsMonth {
        month: "2026-11".into(),
        finalized: true,
        rule: kairan::db::Json(kairan::domain::Rule {
            months_with_posts: 3,
            min_registered_share: 0.1,
            count_city_posts: true,
        }),
        active_districts: 1,
        districts: 1,
        member_households: 120,
        registered_households: 12,
        computed_at: t,
    };
    diesel::insert_into(stats_months::table)
        .values(&month)
        .execute(conn)
        .unwrap();
    let district_safety = StatsDistrictSafetyMonth {
        month: month.month.clone(),
        district_id: district.id.clone(),
        checks: 2,
        households_targeted: 240,
        households_answered_72h: 200,
    };
    diesel::insert_into(stats_district_safety_months::table)
        .values(&district_safety)
        .execute(conn)
        .unwrap();
    assert_eq!(
        stats_district_safety_months::table
            .select(StatsDistrictSafetyMonth::as_select())
            .first(conn)
            .unwrap(),
        district_safety
    );
    let association_safety = StatsAssociationSafetyMonth {
        month: month.month.clone(),
        association_id: association.id.clone(),
        district_id: district.id.clone(),
        checks: 2,
        households_targeted: 240,
        households_answered_72h: 200,
    };
    diesel::insert_into(stats_association_safety_months::table)
        .values(&association_safety)
        .execute(conn)
        .unwrap();
    assert_eq!(
        stats_association_safety_months::table
            .select(StatsAssociationSafetyMonth::as_select())
            .first(conn)
            .unwrap(),
        association_safety
    );
}

#[test]
fn foreign_keys_are_enforced() {
    let database = TestDatabase::fresh();
    let db = open(&database);
    let conn = &mut *db.get().unwrap();
    let t = instant();
    let orphan = Association {
        id: AssociationId::generate(),
        district_id: DistrictId("no-such-district".into()),
        name: "迷子町会".into(),
        name_kana: None,
        member_households: 1,
        area_households: None,
        archived: false,
        created_at: t,
        updated_at: t,
    };
    let err = diesel::insert_into(associations::table)
        .values(&orphan)
        .execute(conn)
        .unwrap_err();
    assert!(
        matches!(
            err,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ForeignKeyViolation,
                _
            )
        ),
        "{err:?}"
    );
    assert_eq!(
        associations::table.count().get_result::<i64>(conn).unwrap(),
        0
    );
}

/// Writers that read first (registration checks the login, then inserts) must queue for the
/// SQLite write lock rather than fail when two upgrade at once.
#[tokio::test]
async fn concurrent_registrations_all_succeed() {
    let app = crate::helpers::spawn_app().await;
    let attempts = (0..24).map(|i| {
        let body = serde_json::json!({
            "login": format!("resident{i}@example.jp"),
            "password": "a fine long password",
            "display_name": format!("住民{i}"),
        });
        app.client
            .post(app.url("/api/v1/auth/register"))
            .json(&body)
            .send()
    });
    for response in futures_util::future::join_all(attempts).await {
        assert_eq!(response.unwrap().status(), 201);
    }
}
