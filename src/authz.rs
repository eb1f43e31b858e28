//! Authorization: who may do what. Every handler asks here; every rule is one small named
//! function over a `Principal` loaded fresh from the database, so a role ended at handover
//! stops working at once.

use diesel::prelude::*;
use serde::Serialize;

use crate::db::AnyConnection;
use crate::db::schema::{associations, households, members, role_assignments};
use crate::domain::{
    AssociationId, AudienceKey, DistrictId, HanId, HouseholdId, MemberId, Role, member_keys,
};
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleGrant {
    pub role: Role,
    /// The han, association or district the role applies to; none for city-wide roles.
    pub scope_id: Option<String>,
    pub term_year: i32,
}

/// The signed-in member with where they live and what they hold now.
#[derive(Debug, Clone)]
pub struct Principal {
    pub member_id: MemberId,
    pub login: String,
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub han_id: Option<HanId>,
    pub association_id: Option<AssociationId>,
    pub district_id: Option<DistrictId>,
    pub roles: Vec<RoleGrant>,
}

/// Where a signed-in member lives: enough for the inbox, without their roles.
#[derive(Debug, Clone)]
pub struct Membership {
    pub member_id: MemberId,
    pub login: String,
    pub display_name: String,
    pub household_id: Option<HouseholdId>,
    pub han_id: Option<HanId>,
    pub association_id: Option<AssociationId>,
    pub district_id: Option<DistrictId>,
}

impl Membership {
    pub fn audience_keys(&self) -> Vec<AudienceKey> {
        member_keys(
            self.household_id.as_ref(),
            self.district_id.as_ref(),
            self.association_id.as_ref(),
            self.han_id.as_ref(),
        )
    }

    /// A deleted or disabled member is treated as not signed in.
    pub fn load(conn: &mut AnyConnection, member_id: &MemberId) -> Result<Self, ApiError> {
        let (login, display_name, household_id, han_id, association_id, district_id) =
            members::table
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
        Ok(Self {
            member_id: member_id.clone(),
            login,
            display_name,
            household_id,
            han_id,
            association_id,
            district_id,
        })
    }
}

impl Principal {
    pub fn audience_keys(&self) -> Vec<AudienceKey> {
        member_keys(
            self.household_id.as_ref(),
            self.district_id.as_ref(),
            self.association_id.as_ref(),
            self.han_id.as_ref(),
        )
    }

    /// The member and the roles they hold now.
    pub fn load(conn: &mut AnyConnection, member_id: &MemberId) -> Result<Self, ApiError> {
        let m = Membership::load(conn, member_id)?;
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
            member_id: m.member_id,
            login: m.login,
            display_name: m.display_name,
            household_id: m.household_id,
            han_id: m.han_id,
            association_id: m.association_id,
            district_id: m.district_id,
            roles,
        })
    }

    fn holds(&self, role: Role, scope: &str) -> bool {
        self.roles
            .iter()
            .any(|g| g.role == role && g.scope_id.as_deref() == Some(scope))
    }

    fn holds_unscoped(&self, role: Role) -> bool {
        self.roles.iter().any(|g| g.role == role)
    }

    pub fn is_admin(&self) -> bool {
        self.holds_unscoped(Role::Admin)
    }

    pub fn is_city_staff(&self) -> bool {
        self.holds_unscoped(Role::CityStaff)
    }

    pub fn is_officer_of(&self, association: &AssociationId) -> bool {
        self.holds(Role::Officer, association.as_str()) || self.is_chair_of(association)
    }

    pub fn is_chair_of(&self, association: &AssociationId) -> bool {
        self.holds(Role::Chair, association.as_str())
    }

    pub fn leads_han(&self, han: &HanId) -> bool {
        self.holds(Role::HanLeader, han.as_str())
    }

    /// Districts this member is a district officer of.
    pub fn officer_districts(&self) -> Vec<DistrictId> {
        self.roles
            .iter()
            .filter(|g| g.role == Role::DistrictOfficer)
            .filter_map(|g| g.scope_id.clone().map(DistrictId))
            .collect()
    }

    /// Hans this member leads.
    pub fn led_hans(&self) -> Vec<HanId> {
        self.roles
            .iter()
            .filter(|g| g.role == Role::HanLeader)
            .filter_map(|g| g.scope_id.clone().map(HanId))
            .collect()
    }
}

/// Turns a rule's answer into 403.
pub fn require(allowed: bool) -> Result<(), ApiError> {
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

/// Turns a rule's answer into 404, for things addressed by their own id: a member who may
/// not manage it learns nothing of its existence.
pub fn require_visible(allowed: bool, what: &'static str) -> Result<(), ApiError> {
    if allowed {
        Ok(())
    } else {
        Err(ApiError::NotFound(what))
    }
}

// The rules.

/// Create associations and set their reported member households.
pub fn may_administer_associations(p: &Principal) -> bool {
    p.is_admin() || p.is_city_staff()
}

/// Keep the roster: hans, households, invitations, join requests, the member list.
pub fn may_manage_roster(p: &Principal, association: &AssociationId) -> bool {
    p.is_admin() || p.is_officer_of(association)
}

/// See the hans of an association (its 班長 need them for their visit lists).
pub fn may_see_hans(
    p: &Principal,
    association: &AssociationId,
    hans_of_association: &[HanId],
) -> bool {
    may_manage_roster(p, association) || hans_of_association.iter().any(|h| p.leads_han(h))
}

/// Appoint officers, chairs and 班長, and hand over at the new term.
pub fn may_assign_roles(p: &Principal, association: &AssociationId) -> bool {
    p.is_admin() || p.is_city_staff() || p.is_chair_of(association)
}

/// Invitations that make someone an officer or chair.
pub fn may_invite_officers(p: &Principal, association: &AssociationId) -> bool {
    p.is_admin() || p.is_chair_of(association)
}

/// Appoint district officers.
pub fn may_appoint_district_officers(p: &Principal) -> bool {
    p.is_admin() || p.is_city_staff()
}

/// The city's adoption dashboard and the projects behind target 3: counts and rates only.
pub fn may_see_city_stats(p: &Principal) -> bool {
    p.is_admin() || p.is_city_staff()
}

/// One district's figures: the city, and that district's officers.
pub fn may_see_district_stats(p: &Principal, district: &DistrictId) -> bool {
    may_see_city_stats(p) || p.holds(Role::DistrictOfficer, district.as_str())
}

/// Create city staff and admins; read the audit log.
pub fn may_administer_city(p: &Principal) -> bool {
    p.is_admin()
}

/// Ask to join an association: residents-to-be, never city staff or admins (who have no
/// household by design and must not get one).
pub fn may_request_to_join(p: &Principal) -> bool {
    !p.is_city_staff() && !p.is_admin()
}

/// Post to a tier: officers to their association (班長 to their own hans), district officers
/// to their district, city staff to the city or any district.
pub fn may_post(
    p: &Principal,
    tier: crate::domain::Tier,
    scope: Option<&str>,
    hans: &[HanId],
) -> bool {
    use crate::domain::Tier;
    if p.is_admin() {
        return true;
    }
    match (tier, scope) {
        (Tier::City, _) => p.is_city_staff(),
        (Tier::District, Some(district)) => {
            p.is_city_staff() || p.holds(Role::DistrictOfficer, district)
        }
        (Tier::Association, Some(association)) => {
            p.is_officer_of(&AssociationId(association.to_string()))
                || (!hans.is_empty() && hans.iter().all(|h| p.leads_han(h)))
        }
        _ => false,
    }
}

/// Edit, withdraw and follow a post: its author, and whoever may post to its audience as a
/// whole (so a new officer can take over a predecessor's circulars).
pub fn may_manage_post(p: &Principal, post: &crate::db::models::Post) -> bool {
    p.member_id == post.author_id || may_post(p, post.tier, post.scope_id.as_deref(), &[])
}

/// Close a safety check: whoever started it, or an admin.
pub fn may_close_safety_check(p: &Principal, check: &crate::db::models::SafetyCheck) -> bool {
    p.is_admin() || p.member_id == check.started_by
}

/// Answer a safety check for a household after a visit: an officer of its association, or
/// the 班長 of its han.
pub fn may_answer_for(p: &Principal, household: &crate::db::models::Household) -> bool {
    may_manage_roster(p, &household.association_id)
        || household.han_id.as_ref().is_some_and(|h| p.leads_han(h))
}
