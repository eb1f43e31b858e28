//! Target 3: projects the city runs with partners, recorded and corrected by city staff.
//! Every change is audited.

use crate::actions::Services;
use crate::authz::{self, Principal, require};
use crate::db::Json;
use crate::db::models::Project;
use crate::db::queries::audit;
use crate::db::queries::projects as queries;
use crate::db::{AnyConnection, now};
use crate::domain::{AuditAction, MemberId, MultiLine, OneLine, Partner, ProjectId};
use crate::error::ApiError;

/// The 年度 a project ran in: 2000 to 2100.
pub fn parse_year(year: i64) -> Result<i32, ApiError> {
    i32::try_from(year)
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| ApiError::validation("fiscal_year must be a year between 2000 and 2100"))
}

/// At least one partner, each once, as stored (a JSON array).
pub fn parse_partners(partners: &[Partner]) -> Result<Json<Vec<Partner>>, ApiError> {
    if partners.is_empty() {
        return Err(ApiError::validation("a project needs at least one partner"));
    }
    let mut unique: Vec<Partner> = Vec::new();
    for p in partners {
        if !unique.contains(p) {
            unique.push(*p);
        }
    }
    Ok(Json(unique))
}

/// At most 2000 characters; none is empty.
pub fn parse_description(text: Option<String>) -> Result<String, ApiError> {
    let text = MultiLine::<2000>::optional("description", text.as_deref().unwrap_or_default())
        .map_err(ApiError::validation)?;
    Ok(text.map(MultiLine::into_inner).unwrap_or_default())
}

pub fn parse_name(name: &str) -> Result<String, ApiError> {
    Ok(OneLine::<200>::parse("name", name)
        .map_err(ApiError::validation)?
        .into_inner())
}

/// A correction: the fields given replace the stored ones (all parsed).
pub struct ProjectChanges {
    pub name: Option<String>,
    pub fiscal_year: Option<i32>,
    pub partners: Option<Json<Vec<Partner>>>,
    pub description: Option<String>,
}

fn city_staff(conn: &mut AnyConnection, caller: &MemberId) -> Result<Principal, ApiError> {
    let p = Principal::load(conn, caller)?;
    require(authz::may_see_city_stats(&p))?;
    Ok(p)
}

fn record(
    conn: &mut AnyConnection,
    p: &Principal,
    action: AuditAction,
    project: &ProjectId,
    detail: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        p,
        action,
        "project",
        Some(project.as_str()),
        None,
        detail,
    )?;
    Ok(())
}

/// Projects (city staff, admin), newest 年度 first; one 年度's when given.
pub async fn list(
    services: &Services,
    caller: &MemberId,
    year: Option<i32>,
) -> Result<Vec<Project>, ApiError> {
    let caller = caller.clone();
    services
        .db
        .run(move |conn| {
            city_staff(conn, &caller)?;
            Ok(queries::list_projects(conn, year)?)
        })
        .await
}

/// Records a project (city staff, admin). `project` is parsed, with its id and times set.
pub async fn create(
    services: &Services,
    caller: &MemberId,
    project: Project,
) -> Result<Project, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = city_staff(conn, &caller)?;
            queries::insert_project(conn, &project)?;
            let detail = serde_json::json!({"fiscal_year": project.fiscal_year});
            record(conn, &p, AuditAction::ProjectRecorded, &project.id, detail)?;
            Ok(project)
        })
        .await
}

/// Corrects a project (city staff, admin).
pub async fn update(
    services: &Services,
    caller: &MemberId,
    id: ProjectId,
    changes: ProjectChanges,
) -> Result<Project, ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = city_staff(conn, &caller)?;
            let mut project =
                queries::find_project(conn, &id)?.ok_or(ApiError::NotFound("project"))?;
            if let Some(name) = changes.name {
                project.name = name;
            }
            if let Some(year) = changes.fiscal_year {
                project.fiscal_year = year;
            }
            if let Some(partners) = changes.partners {
                project.partners = partners;
            }
            if let Some(description) = changes.description {
                project.description = description;
            }
            project.updated_at = now();
            queries::update_project(conn, &project)?;
            let detail = serde_json::json!({"fiscal_year": project.fiscal_year});
            record(conn, &p, AuditAction::ProjectUpdated, &project.id, detail)?;
            Ok(project)
        })
        .await
}

/// Removes a project recorded by mistake (city staff, admin).
pub async fn delete(services: &Services, caller: &MemberId, id: ProjectId) -> Result<(), ApiError> {
    let caller = caller.clone();
    services
        .db
        .write(move |conn| {
            let p = city_staff(conn, &caller)?;
            if queries::delete_project(conn, &id)? == 0 {
                return Err(ApiError::NotFound("project"));
            }
            record(
                conn,
                &p,
                AuditAction::ProjectDeleted,
                &id,
                serde_json::json!({}),
            )
        })
        .await
}
