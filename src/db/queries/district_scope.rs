//! Which associations a district post reaches: those in the district now and those a merge
//! moved out of it (D57). Pushes, receipts, tallies and safety lists share this rule.

use diesel::dsl::{Eq, EqAny, Filter, Or, Select};
use diesel::prelude::*;

use crate::db::schema::{association_former_districts, associations};
use crate::domain::DistrictId;

/// Associations in a district: now, or before a merge moved them (D57).
pub type InDistrict = Or<
    Eq<associations::district_id, DistrictId>,
    EqAny<
        associations::id,
        Select<
            Filter<
                association_former_districts::table,
                Eq<association_former_districts::district_id, DistrictId>,
            >,
            association_former_districts::association_id,
        >,
    >,
>;

pub fn in_district(district: DistrictId) -> InDistrict {
    associations::district_id
        .eq(district.clone())
        .or(associations::id.eq_any(
            association_former_districts::table
                .filter(association_former_districts::district_id.eq(district))
                .select(association_former_districts::association_id),
        ))
}
