//! Joining an association: what an invitation may grant and where it places its resident,
//! a join request's note, and the states a join request goes through.

use chrono::{Duration, NaiveDateTime};

use crate::domain::{MultiLine, Role};
use crate::error::{FieldError, Problem};

const DEFAULT_INVITATION_DAYS: i64 = 14;
const MAX_INVITATION_DAYS: i64 = 90;
const MAX_INVITATION_USES: i32 = 1000;
const MAX_JOIN_MESSAGE_CHARS: usize = 500;

/// What an invitation grants, how often, until when: checked before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationTerms {
    pub role: Role,
    pub max_uses: i32,
    pub expires_at: NaiveDateTime,
}

/// Where an invited resident will live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// A household of their own, made when they register.
    NewHousehold,
    /// A household the association already has.
    Household { in_han: bool },
}

impl InvitationTerms {
    /// A resident, once, for 14 days unless asked otherwise. An invitation makes a resident,
    /// a 班長, an officer or a chair; never a city-wide role.
    pub fn parse(
        role: Option<Role>,
        max_uses: Option<i64>,
        expires_at: Option<NaiveDateTime>,
        now: NaiveDateTime,
    ) -> Result<Self, FieldError> {
        let role = role.unwrap_or(Role::Resident);
        if !matches!(
            role,
            Role::Resident | Role::HanLeader | Role::Officer | Role::Chair
        ) {
            let message = "an invitation can make a resident, han_leader, officer or chair";
            return Err(FieldError::new("role", Problem::Invalid, message));
        }
        let max_uses = i32::try_from(max_uses.unwrap_or(1))
            .ok()
            .filter(|n| (1..=MAX_INVITATION_USES).contains(n))
            .ok_or_else(|| {
                FieldError::new(
                    "max_uses",
                    Problem::Range {
                        min: 1,
                        max: MAX_INVITATION_USES.into(),
                    },
                    format!("max_uses must be from 1 to {MAX_INVITATION_USES}"),
                )
            })?;
        let expires_at = expires_at.unwrap_or(now + Duration::days(DEFAULT_INVITATION_DAYS));
        if expires_at <= now || expires_at > now + Duration::days(MAX_INVITATION_DAYS) {
            // In days from now, as a form asks for it.
            let days = Problem::Range {
                min: 1,
                max: MAX_INVITATION_DAYS,
            };
            return Err(FieldError::new(
                "expires_at",
                days,
                format!("expires_at must be in the future and within {MAX_INVITATION_DAYS} days"),
            ));
        }
        Ok(Self {
            role,
            max_uses,
            expires_at,
        })
    }

    /// Officer and chair invitations, which only a chair (or an admin) may issue.
    pub fn makes_officer(&self) -> bool {
        matches!(self.role, Role::Officer | Role::Chair)
    }

    /// The role the invitation stores: none for a plain resident.
    pub fn granted_role(&self) -> Option<Role> {
        (self.role != Role::Resident).then_some(self.role)
    }

    /// A 班長 invitation must place its resident in a household of a han.
    pub fn check_placement(&self, placement: Placement) -> Result<(), &'static str> {
        if self.role != Role::HanLeader {
            return Ok(());
        }
        match placement {
            Placement::Household { in_han: true } => Ok(()),
            Placement::Household { in_han: false } => {
                Err("a han_leader invitation needs a household in a han")
            }
            Placement::NewHousehold => Err("a han_leader invitation needs a household_id in a han"),
        }
    }
}

/// A join request's note to the officers (who they are, where they live): may be empty.
pub fn join_message(raw: &str) -> Result<String, String> {
    let message = MultiLine::<MAX_JOIN_MESSAGE_CHARS>::optional("message", raw)?;
    Ok(message.map(MultiLine::into_inner).unwrap_or_default())
}

crate::string_enum!(
    /// A join request waits until an officer approves or declines it, once.
    JoinRequestStatus {
        Pending => "pending",
        Approved => "approved",
        Declined => "declined",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 5, day)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap()
    }

    #[test]
    fn an_invitation_makes_a_resident_once_for_two_weeks_by_default() {
        let terms = InvitationTerms::parse(None, None, None, at(1)).unwrap();
        assert_eq!(terms.role, Role::Resident);
        assert_eq!(terms.max_uses, 1);
        assert_eq!(terms.expires_at, at(15));
        assert_eq!(terms.granted_role(), None);
        assert!(!terms.makes_officer());
    }

    #[test]
    fn an_invitation_grants_association_roles_only() {
        for role in [Role::Resident, Role::HanLeader, Role::Officer, Role::Chair] {
            assert!(InvitationTerms::parse(Some(role), None, None, at(1)).is_ok());
        }
        for role in [Role::DistrictOfficer, Role::CityStaff, Role::Admin] {
            assert!(InvitationTerms::parse(Some(role), None, None, at(1)).is_err());
        }
        let officer = InvitationTerms::parse(Some(Role::Officer), None, None, at(1)).unwrap();
        let chair = InvitationTerms::parse(Some(Role::Chair), None, None, at(1)).unwrap();
        let han_leader = InvitationTerms::parse(Some(Role::HanLeader), None, None, at(1)).unwrap();
        assert!(officer.makes_officer() && chair.makes_officer());
        assert!(!han_leader.makes_officer());
        assert_eq!(han_leader.granted_role(), Some(Role::HanLeader));
    }

    #[test]
    fn uses_and_expiry_stay_within_their_bounds() {
        let parse = |uses, expires| InvitationTerms::parse(None, uses, expires, at(1));
        assert!(parse(Some(0), None).is_err());
        assert!(parse(Some(1000), None).is_ok());
        assert!(parse(Some(1001), None).is_err());
        assert!(parse(Some(i64::MAX), None).is_err());
        assert!(parse(None, Some(at(1))).is_err(), "not in the past or now");
        assert!(parse(None, Some(at(2))).is_ok());
        let ninety_days = at(1) + Duration::days(90);
        assert!(parse(None, Some(ninety_days)).is_ok());
        assert!(parse(None, Some(ninety_days + Duration::seconds(1))).is_err());
    }

    #[test]
    fn a_han_leader_invitation_needs_a_household_in_a_han() {
        let terms = |role| InvitationTerms::parse(Some(role), None, None, at(1)).unwrap();
        let han_leader = terms(Role::HanLeader);
        assert!(
            han_leader
                .check_placement(Placement::Household { in_han: true })
                .is_ok()
        );
        assert!(
            han_leader
                .check_placement(Placement::Household { in_han: false })
                .is_err()
        );
        assert!(han_leader.check_placement(Placement::NewHousehold).is_err());
        let officer = terms(Role::Officer);
        assert!(officer.check_placement(Placement::NewHousehold).is_ok());
    }

    #[test]
    fn a_join_message_is_trimmed_and_capped() {
        assert_eq!(join_message("  山田です \n").unwrap(), "山田です");
        assert_eq!(join_message("").unwrap(), "");
        assert!(join_message(&"あ".repeat(500)).is_ok());
        assert!(join_message(&"あ".repeat(501)).is_err());
    }
}
