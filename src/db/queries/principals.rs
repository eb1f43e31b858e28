//! Loads who is asking: where a member lives and the roles they hold now. The rules over
//! these facts are in `authz`.

use diesel::prelude::*;

use crate::authz::{Membership, Principal, RoleGrant};
use crate::db::AnyConnection;
use crate::db::schema::{
    association_former_districts, associations, households, members, role_assignments,
};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, MemberId, Role};
use crate::error::ApiError;

impl Membership {
    /// A deleted or disabled member is treated as not signed in.
    pub fn load(conn: &mut AnyConnection, member_id: &MemberId) -> Result<Self, ApiError> {
        Ok(named_place(conn, member_id)?.0)
    }
}

/// The member's place, login and display name.
fn named_place(
    conn: &mut AnyConnection,
    member_id: &MemberId,
) -> Result<(Membership, String, String), ApiError> {
    let (login, display_name, household_id, han_id, association_id, district_id) = members::table
        // Flat joins: SQLite materializes a parenthesized (nested) join in full.
        .left_join(households::table)
        .left_join(associations::table.on(associations::id.eq(households::association_id)))
        .filter(members::id.eq(member_id))
        .filter(members::disabled.eq(false))
        .select((
            members::login,
            members::display_name,
            members::household_id,
            households::han_id.nullable(),
            households::association_id.nullable(),
            associations::district_id.nullable(),
        ))
        .first::<(
            String,
            String,
            Option<HouseholdId>,
            Option<HanId>,
            Option<AssociationId>,
            Option<DistrictId>,
        )>(conn)
        .optional()?
        .ok_or_else(ApiError::invalid_token)?;
    let former_districts = match &association_id {
        Some(association) => association_former_districts::table
            .filter(association_former_districts::association_id.eq(association))
            .select(association_former_districts::district_id)
            .order(association_former_districts::moved_at.asc())
            .load(conn)?,
        None => Vec::new(),
    };
    let place = Membership {
        member_id: member_id.clone(),
        household_id,
        han_id,
        association_id,
        district_id,
        former_districts,
    };
    Ok((place, login, display_name))
}

impl Principal {
    /// The member and the roles they hold now.
    pub fn load(conn: &mut AnyConnection, member_id: &MemberId) -> Result<Self, ApiError> {
        let (place, login, display_name) = named_place(conn, member_id)?;
        let roles = role_assignments::table
            .filter(role_assignments::member_id.eq(member_id))
            .filter(role_assignments::ended_at.is_null())
            .select((
                role_assignments::role,
                role_assignments::scope_id,
                role_assignments::term_year,
            ))
            .order(role_assignments::started_at.asc())
            .load::<(Role, Option<String>, i32)>(conn)?
            .into_iter()
            .map(|(role, scope_id, term_year)| RoleGrant {
                role,
                scope_id,
                term_year,
            })
            .collect();
        Ok(Self {
            place,
            login,
            display_name,
            roles,
        })
    }
}
