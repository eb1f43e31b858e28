//! Every member's place, read in chunks for `places::Directory`: associations with their
//! districts, households by id, enabled members by id with their token generation (keyset,
//! so each chunk is one short indexed read).

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::{association_former_districts, associations, households, members};
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, MemberId};

/// Each association's district and former districts (oldest first).
pub fn associations(
    conn: &mut AnyConnection,
) -> QueryResult<Vec<(AssociationId, DistrictId, Vec<DistrictId>)>> {
    let mut former: std::collections::HashMap<AssociationId, Vec<DistrictId>> =
        std::collections::HashMap::new();
    let moves = association_former_districts::table
        .select((
            association_former_districts::association_id,
            association_former_districts::district_id,
        ))
        .order(association_former_districts::moved_at.asc())
        .load::<(AssociationId, DistrictId)>(conn)?;
    for (association, district) in moves {
        former.entry(association).or_default().push(district);
    }
    Ok(associations::table
        .select((associations::id, associations::district_id))
        .load::<(AssociationId, DistrictId)>(conn)?
        .into_iter()
        .map(|(id, district)| {
            let moved_out_of = former.remove(&id).unwrap_or_default();
            (id, district, moved_out_of)
        })
        .collect())
}

/// Up to `limit` households after `after`, by id.
pub fn households(
    conn: &mut AnyConnection,
    after: Option<&HouseholdId>,
    limit: i64,
) -> QueryResult<Vec<(HouseholdId, Option<HanId>, AssociationId)>> {
    // Every id sorts after the empty text.
    households::table
        .filter(households::id.gt(after.map_or("", HouseholdId::as_str)))
        .select((
            households::id,
            households::han_id,
            households::association_id,
        ))
        .order(households::id.asc())
        .limit(limit)
        .load(conn)
}

/// Up to `limit` enabled members after `after`, by id, with their household and token
/// generation.
pub fn members(
    conn: &mut AnyConnection,
    after: Option<&MemberId>,
    limit: i64,
) -> QueryResult<Vec<(MemberId, Option<HouseholdId>, i64)>> {
    members::table
        .filter(members::id.gt(after.map_or("", MemberId::as_str)))
        .filter(members::disabled.eq(false))
        .select((
            members::id,
            members::household_id,
            members::token_generation,
        ))
        .order(members::id.asc())
        .limit(limit)
        .load(conn)
}
