//! Appointing officers, chairs and 班長, and the yearly handover (年度替わり): which scope an
//! appointment holds, and what a handover ends and starts.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDateTime};

use crate::domain::{AssociationId, HanId, MemberId, Role};

/// Roles an association appoints and hands over at the new term.
pub const ASSOCIATION_ROLES: [Role; 3] = [Role::Officer, Role::Chair, Role::HanLeader];

const MAX_HANDOVER_APPOINTMENTS: usize = 500;

/// The Japanese fiscal year (年度) a moment falls in: it starts on 1 April.
pub fn fiscal_year(at: NaiveDateTime) -> i32 {
    if at.month() >= 4 {
        at.year()
    } else {
        at.year() - 1
    }
}

/// An appointment as asked for: a member, a role, and for a 班長 the han they lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub member_id: MemberId,
    pub role: Role,
    pub han: Option<HanId>,
}

/// An appointment checked against its association, with the scope its role will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedAppointment {
    pub member_id: MemberId,
    pub role: Role,
    pub scope_id: String,
}

/// Why an association cannot make an appointment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppointmentRefusal {
    /// The member lives in no household of the association.
    NotAMember,
    /// Only officer, chair and 班長 are the association's to give.
    NotAnAssociationRole(Role),
    /// A 班長 appointment names no han.
    HanMissing,
    /// The han is not one of the association's.
    UnknownHan,
}

impl Appointment {
    /// Officers and chairs hold the association, a 班長 one of its hans; only members of the
    /// association can be appointed.
    pub fn scope(
        self,
        association: &AssociationId,
        is_member: bool,
        hans: &[HanId],
    ) -> Result<ScopedAppointment, AppointmentRefusal> {
        if !is_member {
            return Err(AppointmentRefusal::NotAMember);
        }
        let scope_id = match self.role {
            Role::Officer | Role::Chair => association.to_string(),
            Role::HanLeader => {
                let han = self.han.ok_or(AppointmentRefusal::HanMissing)?;
                if !hans.contains(&han) {
                    return Err(AppointmentRefusal::UnknownHan);
                }
                han.0
            }
            other => return Err(AppointmentRefusal::NotAnAssociationRole(other)),
        };
        Ok(ScopedAppointment {
            member_id: self.member_id,
            role: self.role,
            scope_id,
        })
    }
}

/// The scopes whose roles belong to an association: its hans and itself.
pub fn association_scopes(association: &AssociationId, hans: &[HanId]) -> Vec<String> {
    hans.iter()
        .map(|h| h.to_string())
        .chain([association.to_string()])
        .collect()
}

/// A handover as asked for: the new term and everyone who holds a role in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover {
    pub term_year: i32,
    pub appointments: Vec<Appointment>,
}

/// What a handover does: every current association role in `ending_scopes` ends, and the
/// `starting` ones begin for `term_year`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoverPlan {
    pub term_year: i32,
    pub ending_scopes: Vec<String>,
    pub starting: Vec<ScopedAppointment>,
}

impl Handover {
    /// The term is last year's, this year's or next year's (a late or an early handover),
    /// and it lists 1 to 500 appointments.
    pub fn parse(
        term_year: i32,
        appointments: Vec<Appointment>,
        now: NaiveDateTime,
    ) -> Result<Self, String> {
        let current = fiscal_year(now);
        if !(current - 1..=current + 1).contains(&term_year) {
            return Err(format!(
                "term_year must be {} to {}",
                current - 1,
                current + 1
            ));
        }
        if appointments.is_empty() || appointments.len() > MAX_HANDOVER_APPOINTMENTS {
            return Err(format!(
                "a handover lists 1 to {MAX_HANDOVER_APPOINTMENTS} assignments"
            ));
        }
        Ok(Self {
            term_year,
            appointments,
        })
    }

    /// Checks every appointment before anything ends: one that cannot be made refuses the
    /// whole handover.
    pub fn plan(
        self,
        association: &AssociationId,
        members: &HashSet<MemberId>,
        hans: &[HanId],
    ) -> Result<HandoverPlan, AppointmentRefusal> {
        let starting = self
            .appointments
            .into_iter()
            .map(|a| {
                let is_member = members.contains(&a.member_id);
                a.scope(association, is_member, hans)
            })
            .collect::<Result<_, _>>()?;
        Ok(HandoverPlan {
            term_year: self.term_year,
            ending_scopes: association_scopes(association, hans),
            starting,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(y, m, day)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
    }

    fn appoint(member: &str, role: Role, han: Option<&str>) -> Appointment {
        Appointment {
            member_id: MemberId(member.into()),
            role,
            han: han.map(|h| HanId(h.into())),
        }
    }

    #[test]
    fn fiscal_year_starts_in_april() {
        assert_eq!(fiscal_year(d(2027, 3, 31)), 2026);
        assert_eq!(fiscal_year(d(2027, 4, 1)), 2027);
    }

    #[test]
    fn officers_hold_the_association_and_han_leaders_their_han() {
        let association = AssociationId("a".into());
        let hans = [HanId("h1".into())];
        let officer = appoint("m", Role::Officer, Some("h1")).scope(&association, true, &hans);
        assert_eq!(officer.unwrap().scope_id, "a");
        let chair = appoint("m", Role::Chair, None).scope(&association, true, &hans);
        assert_eq!(chair.unwrap().scope_id, "a");
        let leader = appoint("m", Role::HanLeader, Some("h1")).scope(&association, true, &hans);
        assert_eq!(leader.unwrap().scope_id, "h1");
    }

    #[test]
    fn an_appointment_the_association_cannot_make_is_refused() {
        let association = AssociationId("a".into());
        let hans = [HanId("h1".into())];
        let refusal = |a: Appointment, member| a.scope(&association, member, &hans).unwrap_err();
        assert_eq!(
            refusal(appoint("m", Role::Officer, None), false),
            AppointmentRefusal::NotAMember
        );
        assert_eq!(
            refusal(appoint("m", Role::HanLeader, None), true),
            AppointmentRefusal::HanMissing
        );
        assert_eq!(
            refusal(appoint("m", Role::HanLeader, Some("elsewhere")), true),
            AppointmentRefusal::UnknownHan
        );
        for role in [
            Role::Resident,
            Role::DistrictOfficer,
            Role::CityStaff,
            Role::Admin,
        ] {
            assert_eq!(
                refusal(appoint("m", role, None), true),
                AppointmentRefusal::NotAnAssociationRole(role)
            );
        }
        // Membership is checked first: a stranger is refused whatever the role.
        assert_eq!(
            refusal(appoint("m", Role::Admin, None), false),
            AppointmentRefusal::NotAMember
        );
    }

    #[test]
    fn a_handover_is_for_a_neighbouring_term_and_lists_someone() {
        let now = d(2026, 6, 1);
        let one = || vec![appoint("m", Role::Chair, None)];
        assert!(Handover::parse(2025, one(), now).is_ok());
        assert!(Handover::parse(2027, one(), now).is_ok());
        assert_eq!(
            Handover::parse(2028, one(), now).unwrap_err(),
            "term_year must be 2025 to 2027"
        );
        assert!(Handover::parse(2026, vec![], now).is_err());
        let many = vec![appoint("m", Role::Officer, None); 501];
        assert!(Handover::parse(2026, many, now).is_err());
    }

    #[test]
    fn a_handover_ends_every_association_scope_and_starts_the_listed_roles() {
        let association = AssociationId("a".into());
        let hans = [HanId("h1".into()), HanId("h2".into())];
        let members: HashSet<MemberId> = [MemberId("m1".into()), MemberId("m2".into())].into();
        let handover = Handover::parse(
            2026,
            vec![
                appoint("m1", Role::Chair, None),
                appoint("m2", Role::HanLeader, Some("h2")),
            ],
            d(2026, 4, 1),
        )
        .unwrap();
        let plan = handover.plan(&association, &members, &hans).unwrap();
        assert_eq!(plan.term_year, 2026);
        assert_eq!(plan.ending_scopes, ["h1", "h2", "a"]);
        let started: Vec<(&str, Role, &str)> = plan
            .starting
            .iter()
            .map(|s| (s.member_id.as_str(), s.role, s.scope_id.as_str()))
            .collect();
        assert_eq!(
            started,
            [("m1", Role::Chair, "a"), ("m2", Role::HanLeader, "h2")]
        );
    }

    #[test]
    fn one_bad_appointment_refuses_the_whole_handover() {
        let association = AssociationId("a".into());
        let members: HashSet<MemberId> = [MemberId("m1".into())].into();
        let handover = Handover::parse(
            2026,
            vec![
                appoint("m1", Role::Chair, None),
                appoint("stranger", Role::Officer, None),
            ],
            d(2026, 4, 1),
        )
        .unwrap();
        assert_eq!(
            handover.plan(&association, &members, &[]).unwrap_err(),
            AppointmentRefusal::NotAMember
        );
    }
}
