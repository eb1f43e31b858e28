//! Who something is for: the scope a post or safety check addresses, the inbox keys it is
//! indexed under, and which part of it a caller may list. Posts, safety checks, pushes and
//! the inbox all use these, so the audience rule has one home.

use diesel_derive_newtype::DieselNewType;

use super::{AssociationId, DistrictId, HanId, HouseholdId, Tier};

/// A scope as addressed by a request: the whole city, one district or one association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    City,
    District(DistrictId),
    Association(AssociationId),
}

impl Scope {
    /// Parses a request's `{kind, id}`; an empty id counts as none.
    pub fn parse(tier: Tier, id: Option<String>) -> Result<Self, &'static str> {
        match (tier, id.filter(|s| !s.is_empty())) {
            (Tier::City, None) => Ok(Scope::City),
            (Tier::City, Some(_)) => Err("a city post has no scope id"),
            (_, None) => Err("scope.id is required for district and association posts"),
            (Tier::District, Some(id)) => Ok(Scope::District(DistrictId(id))),
            (Tier::Association, Some(id)) => Ok(Scope::Association(AssociationId(id))),
        }
    }

    pub fn tier(&self) -> Tier {
        match self {
            Scope::City => Tier::City,
            Scope::District(_) => Tier::District,
            Scope::Association(_) => Tier::Association,
        }
    }

    /// The district or association id, as stored beside the tier.
    pub fn id(&self) -> Option<&str> {
        match self {
            Scope::City => None,
            Scope::District(d) => Some(d.as_str()),
            Scope::Association(a) => Some(a.as_str()),
        }
    }
}

/// A key the inbox and safety checks are indexed under: `city`, `district:<id>`,
/// `association:<id>` or `han:<id>`. Built only here, so every reader and writer agrees.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, DieselNewType)]
pub struct AudienceKey(String);

impl AudienceKey {
    pub fn city() -> Self {
        Self("city".into())
    }

    pub fn district(id: &DistrictId) -> Self {
        Self(format!("district:{id}"))
    }

    pub fn association(id: &AssociationId) -> Self {
        Self(format!("association:{id}"))
    }

    pub fn han(id: &HanId) -> Self {
        Self(format!("han:{id}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as `as_str` wrote it (another instance's announcement); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        let well_formed = text == "city"
            || text.split_once(':').is_some_and(|(kind, id)| {
                matches!(kind, "district" | "association" | "han") && !id.is_empty()
            });
        well_formed.then(|| Self(text.to_string()))
    }
}

/// The audience keys of a member: the city, their district (and those a merge moved their
/// association out of), association and han. A member outside any household (staff, or
/// awaiting a join request) is in no audience.
pub fn member_keys(
    household: Option<&HouseholdId>,
    district: Option<&DistrictId>,
    former_districts: &[DistrictId],
    association: Option<&AssociationId>,
    han: Option<&HanId>,
) -> Vec<AudienceKey> {
    if household.is_none() {
        return Vec::new();
    }
    let mut keys = vec![AudienceKey::city()];
    keys.extend(district.map(AudienceKey::district));
    keys.extend(former_districts.iter().map(AudienceKey::district));
    keys.extend(association.map(AudienceKey::association));
    keys.extend(han.map(AudienceKey::han));
    keys
}

/// Who something is for: a tier with its district or association, and maybe some hans of
/// that association, borrowed from a post's or safety check's row.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    pub tier: Tier,
    pub scope_id: Option<&'a str>,
    pub hans: &'a [HanId],
}

impl Audience<'_> {
    /// The inbox keys the audience is indexed under.
    pub fn keys(&self) -> Vec<AudienceKey> {
        match (self.tier, self.scope_id) {
            (Tier::City, _) => vec![AudienceKey::city()],
            (Tier::District, Some(d)) => vec![AudienceKey(format!("district:{d}"))],
            (Tier::Association, Some(a)) if self.hans.is_empty() => {
                vec![AudienceKey(format!("association:{a}"))]
            }
            (Tier::Association, Some(_)) => self.hans.iter().map(AudienceKey::han).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether an association (in `district`) is within the audience's scope, hans aside.
    pub fn reaches_association(&self, association: &AssociationId, district: &DistrictId) -> bool {
        match self.tier {
            Tier::City => true,
            Tier::District => self.scope_id == Some(district.as_str()),
            Tier::Association => self.scope_id == Some(association.as_str()),
        }
    }

    /// Whether a household of that association, in `han`, is in the audience.
    pub fn reaches_household(
        &self,
        association: &AssociationId,
        district: &DistrictId,
        han: Option<&HanId>,
    ) -> bool {
        self.reaches_association(association, district)
            && (self.hans.is_empty() || han.is_some_and(|h| self.hans.contains(h)))
    }
}

/// Which of an audience's households to count or list: all of them, or the part one caller
/// may see (see `authz::household_view`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptScope {
    Audience,
    Association(AssociationId),
    Hans(Vec<HanId>),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn district(s: &str) -> DistrictId {
        DistrictId(s.into())
    }

    fn association(s: &str) -> AssociationId {
        AssociationId(s.into())
    }

    #[test]
    fn a_scope_is_parsed_with_its_id_or_refused() {
        assert_eq!(Scope::parse(Tier::City, None), Ok(Scope::City));
        assert_eq!(
            Scope::parse(Tier::City, Some(String::new())),
            Ok(Scope::City)
        );
        assert!(Scope::parse(Tier::City, Some("d".into())).is_err());
        assert!(Scope::parse(Tier::District, None).is_err());
        assert_eq!(
            Scope::parse(Tier::Association, Some("a".into())),
            Ok(Scope::Association(association("a")))
        );
    }

    #[test]
    fn a_member_outside_a_household_is_in_no_audience() {
        let d = district("d");
        assert!(member_keys(None, Some(&d), &[], None, None).is_empty());
        let h = HouseholdId("h".into());
        let keys = member_keys(
            Some(&h),
            Some(&d),
            &[district("old")],
            Some(&association("a")),
            Some(&HanId("x".into())),
        );
        let keys: Vec<&str> = keys.iter().map(AudienceKey::as_str).collect();
        assert_eq!(
            keys,
            [
                "city",
                "district:d",
                "district:old",
                "association:a",
                "han:x"
            ]
        );
    }

    #[test]
    fn a_han_audience_is_keyed_by_its_hans_only() {
        let hans = [HanId("h1".into()), HanId("h2".into())];
        let audience = Audience {
            tier: Tier::Association,
            scope_id: Some("a"),
            hans: &hans,
        };
        let keys = audience.keys();
        let keys: Vec<&str> = keys.iter().map(AudienceKey::as_str).collect();
        assert_eq!(keys, ["han:h1", "han:h2"]);
        let (a, d) = (association("a"), district("d"));
        assert!(audience.reaches_household(&a, &d, Some(&hans[0])));
        assert!(!audience.reaches_household(&a, &d, None));
        assert!(!audience.reaches_household(&association("b"), &d, Some(&hans[0])));
    }

    #[test]
    fn a_district_audience_reaches_its_associations_only() {
        let audience = Audience {
            tier: Tier::District,
            scope_id: Some("d"),
            hans: &[],
        };
        let a = association("a");
        assert!(audience.reaches_household(&a, &district("d"), None));
        assert!(!audience.reaches_household(&a, &district("e"), None));
    }
}
