//! Authorization: who may do what. Every use case asks here; every rule is one small named
//! function over a `Principal` (loaded fresh from the database by `db::queries::principals`,
//! so a role ended at handover stops working at once) and facts already resolved. No SQL.

use serde::Serialize;

use crate::domain::{
    AssociationId, Audience, AudienceKey, DistrictId, HanId, HouseholdId, MemberId, ReceiptScope,
    Role, Scope, Tier, member_keys,
};
use crate::error::ApiError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoleGrant {
    pub role: Role,
    /// The han, association or district the role applies to; none for city-wide roles.
    pub scope_id: Option<String>,
    pub term_year: i32,
}

/// The signed-in member: where they live and what they hold now. Reads through to the
/// `Membership` it extends (`principal.association_id`), so the place is written once.
#[derive(Debug, Clone)]
pub struct Principal {
    pub place: Membership,
    pub login: String,
    pub display_name: String,
    pub roles: Vec<RoleGrant>,
}

impl std::ops::Deref for Principal {
    type Target = Membership;

    fn deref(&self) -> &Membership {
        &self.place
    }
}

/// Where a signed-in member lives: enough for the inbox, without their names or roles.
#[derive(Debug, Clone)]
pub struct Membership {
    pub member_id: MemberId,
    pub household_id: Option<HouseholdId>,
    pub han_id: Option<HanId>,
    pub association_id: Option<AssociationId>,
    pub district_id: Option<DistrictId>,
    /// Districts a merge moved the association out of: their circulars still reach it (D57).
    pub former_districts: Vec<DistrictId>,
}

impl Membership {
    pub fn audience_keys(&self) -> Vec<AudienceKey> {
        member_keys(
            self.household_id.as_ref(),
            self.district_id.as_ref(),
            &self.former_districts,
            self.association_id.as_ref(),
            self.han_id.as_ref(),
        )
    }
}

impl Principal {
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

/// Register, replace or remove a LINE official account (D66): the city's by city staff, an
/// association's by whoever keeps its roster.
pub fn may_manage_line_account(p: &Principal, association: Option<&AssociationId>) -> bool {
    match association {
        None => may_administer_associations(p),
        Some(association) => may_manage_roster(p, association),
    }
}

/// Correct the city's district list: rename, merge, archive, restore.
pub fn may_correct_districts(p: &Principal) -> bool {
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

/// The hans whose households a caller may list in an association: all (None) for its
/// officers, the hans they lead there for 班長; 403 for anyone else.
pub fn listable_hans(
    p: &Principal,
    association: &AssociationId,
    hans_of_association: &[HanId],
) -> Result<Option<Vec<HanId>>, ApiError> {
    if may_manage_roster(p, association) {
        return Ok(None);
    }
    let led: Vec<HanId> = p
        .led_hans()
        .into_iter()
        .filter(|h| hans_of_association.contains(h))
        .collect();
    require(!led.is_empty())?;
    Ok(Some(led))
}

/// Appoint officers, chairs and 班長, and hand over at the new term.
pub fn may_assign_roles(p: &Principal, association: &AssociationId) -> bool {
    p.is_admin() || p.is_city_staff() || p.is_chair_of(association)
}

/// Invitations that make someone an officer or chair.
pub fn may_invite_officers(p: &Principal, association: &AssociationId) -> bool {
    p.is_admin() || p.is_chair_of(association)
}

/// Issue an invitation that makes its user `role` in the association: residents and 班長
/// whoever keeps the roster, officers and chairs the chair. Checked again when the
/// invitation is used, so one outlives no issuer's term.
pub fn may_issue_invitation(p: &Principal, role: Role, association: &AssociationId) -> bool {
    match role {
        Role::Officer | Role::Chair => may_invite_officers(p, association),
        _ => may_manage_roster(p, association),
    }
}

/// Appoint district officers.
pub fn may_appoint_district_officers(p: &Principal) -> bool {
    p.is_admin() || p.is_city_staff()
}

/// End a role: an association's roles whoever may assign them there, a district officer's
/// whoever appoints district officers, any other role an admin.
pub fn may_end_role(p: &Principal, role: Role, association: Option<&AssociationId>) -> bool {
    match (association, role) {
        (Some(association), Role::Officer | Role::Chair | Role::HanLeader) => {
            may_assign_roles(p, association)
        }
        (_, Role::DistrictOfficer) => may_appoint_district_officers(p),
        _ => may_administer_city(p),
    }
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

/// Post to a scope: officers to their association (班長 to their own hans), district
/// officers to their district, city staff to the city or any district.
pub fn may_post(p: &Principal, scope: &Scope, hans: &[HanId]) -> bool {
    if p.is_admin() {
        return true;
    }
    match scope {
        Scope::City => p.is_city_staff(),
        Scope::District(district) => {
            p.is_city_staff() || p.holds(Role::DistrictOfficer, district.as_str())
        }
        Scope::Association(association) => {
            p.is_officer_of(association)
                || (!hans.is_empty() && hans.iter().all(|h| p.leads_han(h)))
        }
    }
}

/// Edit, withdraw, remind, attach to and follow a post: whoever may post to its audience
/// (its hans included) now. Authorship grants nothing: an author whose role ended loses the
/// post, and the successor in the role takes it over.
pub fn may_manage_post(p: &Principal, audience: Audience<'_>) -> bool {
    Scope::parse(audience.tier, audience.scope_id.map(str::to_string))
        .is_ok_and(|scope| may_post(p, &scope, audience.hans))
}

/// Close a safety check: whoever started it, or an admin.
pub fn may_close_safety_check(p: &Principal, started_by: &MemberId) -> bool {
    p.is_admin() || &p.member_id == started_by
}

/// Answer a safety check for a household after a visit: an officer of its association, or
/// the 班長 of its han.
pub fn may_answer_for(p: &Principal, association: &AssociationId, han: Option<&HanId>) -> bool {
    may_manage_roster(p, association) || han.is_some_and(|h| p.leads_han(h))
}

/// The part of an audience whose receipts a caller may list: everything for an admin, else
/// `household_view`. None: counts only, or no access.
pub fn receipt_scope(p: &Principal, audience: Audience<'_>) -> Option<ReceiptScope> {
    if p.is_admin() {
        return Some(ReceiptScope::Audience);
    }
    household_view(p, audience)
}

/// The households of an audience a caller may list, house by house: officers their own
/// association's (when the audience reaches it), 班長 their hans' (within the audience's
/// hans). None: counts at most. Receipts, survey answers and safety status share this rule.
pub fn household_view(p: &Principal, audience: Audience<'_>) -> Option<ReceiptScope> {
    let association = p.association_id.as_ref()?;
    let reached = match audience.tier {
        Tier::City => true,
        Tier::District => p
            .district_id
            .as_ref()
            .is_some_and(|d| audience.scope_id == Some(d.as_str())),
        Tier::Association => audience.scope_id == Some(association.as_str()),
    };
    if !reached {
        return None;
    }
    if may_manage_roster(p, association) {
        return Some(ReceiptScope::Association(association.clone()));
    }
    let led: Vec<HanId> = p
        .led_hans()
        .into_iter()
        .filter(|h| audience.hans.is_empty() || audience.hans.contains(h))
        .collect();
    (!led.is_empty()).then_some(ReceiptScope::Hans(led))
}

/// The part of a safety check's status a caller may follow, most detailed first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusView {
    /// 班長: their hans' households.
    Hans(Vec<HanId>),
    /// Officers: their association's households, per han.
    Association(AssociationId),
    /// District officers: counts per association of their district.
    District(DistrictId),
    /// City staff and admins: counts per district.
    City,
}

/// Who follows a safety check's status: house by house as `household_view` allows, else
/// counts for a district officer of the district it reaches (`check_district`: the district of
/// a district or association check), else counts per district for the city. None: no one.
pub fn safety_status_view(
    p: &Principal,
    audience: Audience<'_>,
    check_district: Option<&DistrictId>,
) -> Option<StatusView> {
    match household_view(p, audience) {
        Some(ReceiptScope::Hans(led)) => return Some(StatusView::Hans(led)),
        Some(ReceiptScope::Association(a)) => return Some(StatusView::Association(a)),
        Some(ReceiptScope::Audience) | None => {}
    }
    if let Some(d) = p
        .officer_districts()
        .into_iter()
        .find(|d| audience.tier == Tier::City || check_district == Some(d))
    {
        return Some(StatusView::District(d));
    }
    (p.is_city_staff() || p.is_admin()).then_some(StatusView::City)
}

/// Print one-time sign-in QR codes for the members of an association (which ends their
/// other sign-ins): its officers and chair, or an admin.
pub fn may_issue_sign_in_codes(p: &Principal, association: &AssociationId) -> bool {
    may_manage_roster(p, association)
}

/// Disable, enable or remove a member of an association: whoever keeps its roster, as long
/// as they may also end every role the member holds there (an officer cannot shut out the
/// chair), and never themselves.
pub fn may_manage_member_access(
    p: &Principal,
    member: &MemberId,
    association: &AssociationId,
    roles: &[Role],
) -> bool {
    &p.member_id != member
        && may_manage_roster(p, association)
        && roles
            .iter()
            .filter(|role| **role != Role::Resident)
            .all(|role| may_end_role(p, *role, Some(association)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: Vec<(Role, Option<&str>)>, association: Option<&str>) -> Principal {
        Principal {
            place: Membership {
                member_id: MemberId("m".into()),
                household_id: association.map(|_| HouseholdId("h".into())),
                han_id: None,
                association_id: association.map(|a| AssociationId(a.into())),
                district_id: association.map(|_| DistrictId("d1".into())),
                former_districts: Vec::new(),
            },
            login: "m".into(),
            display_name: "m".into(),
            roles: roles
                .into_iter()
                .map(|(role, scope)| RoleGrant {
                    role,
                    scope_id: scope.map(str::to_string),
                    term_year: 2026,
                })
                .collect(),
        }
    }

    fn district_check(district: &'static str) -> Audience<'static> {
        Audience {
            tier: Tier::District,
            scope_id: Some(district),
            hans: &[],
        }
    }

    #[test]
    fn safety_status_is_followed_house_by_house_by_officers_and_as_counts_above_them() {
        let d1 = DistrictId("d1".into());
        let officer = principal(vec![(Role::Officer, Some("a1"))], Some("a1"));
        assert_eq!(
            safety_status_view(&officer, district_check("d1"), Some(&d1)),
            Some(StatusView::Association(AssociationId("a1".into())))
        );
        let district_officer = principal(vec![(Role::DistrictOfficer, Some("d1"))], None);
        assert_eq!(
            safety_status_view(&district_officer, district_check("d1"), Some(&d1)),
            Some(StatusView::District(d1.clone()))
        );
        let d2 = DistrictId("d2".into());
        assert_eq!(
            safety_status_view(&district_officer, district_check("d2"), Some(&d2)),
            None
        );
        let staff = principal(vec![(Role::CityStaff, None)], None);
        assert_eq!(
            safety_status_view(&staff, district_check("d2"), Some(&d2)),
            Some(StatusView::City)
        );
        let resident = principal(Vec::new(), Some("a1"));
        assert_eq!(
            safety_status_view(&resident, district_check("d1"), Some(&d1)),
            None
        );
    }

    #[test]
    fn an_officer_may_shut_out_residents_but_not_the_chair_nor_themselves() {
        let a = AssociationId("a1".into());
        let other = MemberId("other".into());
        let officer = principal(vec![(Role::Officer, Some("a1"))], Some("a1"));
        let chair = principal(vec![(Role::Chair, Some("a1"))], Some("a1"));
        let resident = [Role::Resident];
        let a_chair = [Role::Resident, Role::Chair];
        assert!(may_manage_member_access(&officer, &other, &a, &resident));
        assert!(!may_manage_member_access(&officer, &other, &a, &a_chair));
        assert!(may_manage_member_access(&chair, &other, &a, &a_chair));
        assert!(!may_manage_member_access(
            &chair,
            &chair.member_id,
            &a,
            &resident
        ));
        let elsewhere = AssociationId("a2".into());
        assert!(!may_manage_member_access(
            &chair, &other, &elsewhere, &resident
        ));
    }
}
