//! Target 3: projects the city runs with partners, recorded by city staff.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::models::Project;
use crate::db::schema::projects;
use crate::domain::ProjectId;

pub fn list_projects(
    conn: &mut AnyConnection,
    fiscal_year: Option<i32>,
) -> QueryResult<Vec<Project>> {
    let mut query = projects::table
        .select(Project::as_select())
        .order((projects::fiscal_year.desc(), projects::name.asc()))
        .into_boxed();
    if let Some(year) = fiscal_year {
        query = query.filter(projects::fiscal_year.eq(year));
    }
    query.load(conn)
}

pub fn find_project(conn: &mut AnyConnection, id: &ProjectId) -> QueryResult<Option<Project>> {
    projects::table
        .find(id)
        .select(Project::as_select())
        .first(conn)
        .optional()
}

pub fn insert_project(conn: &mut AnyConnection, project: &Project) -> QueryResult<()> {
    diesel::insert_into(projects::table)
        .values(project)
        .execute(conn)
        .map(drop)
}

pub fn update_project(conn: &mut AnyConnection, project: &Project) -> QueryResult<()> {
    diesel::update(projects::table.find(&project.id))
        .set((
            projects::name.eq(&project.name),
            projects::fiscal_year.eq(project.fiscal_year),
            projects::partners.eq(&project.partners),
            projects::description.eq(&project.description),
            projects::updated_at.eq(project.updated_at),
        ))
        .execute(conn)
        .map(drop)
}

pub fn delete_project(conn: &mut AnyConnection, id: &ProjectId) -> QueryResult<usize> {
    diesel::delete(projects::table.find(id)).execute(conn)
}

pub fn count_projects(conn: &mut AnyConnection, fiscal_year: i32) -> QueryResult<i64> {
    projects::table
        .filter(projects::fiscal_year.eq(fiscal_year))
        .count()
        .get_result(conn)
}
