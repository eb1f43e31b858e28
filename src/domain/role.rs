use serde::{Deserialize, Serialize};

/// What a member may do, and over which scope (han, association, district or the city).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Resident,
    HanLeader,
    Officer,
    Chair,
    DistrictOfficer,
    CityStaff,
    Admin,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Resident,
        Role::HanLeader,
        Role::Officer,
        Role::Chair,
        Role::DistrictOfficer,
        Role::CityStaff,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Resident => "resident",
            Role::HanLeader => "han_leader",
            Role::Officer => "officer",
            Role::Chair => "chair",
            Role::DistrictOfficer => "district_officer",
            Role::CityStaff => "city_staff",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role '{s}'"))
    }
}

crate::text_enum!(Role);
