//! The live status of a safety check (安否確認), grouped for whoever follows it: per han with
//! the visit lists for officers and 班長, counts per association for district officers,
//! counts per district for city staff. Pure: the rows come from `db::queries::safety`.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, SafetyStatus};

/// One household a check reaches, with its answer.
#[derive(Debug, Clone)]
pub struct StatusRow {
    pub household_id: HouseholdId,
    pub label: String,
    pub paper: bool,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub association_id: AssociationId,
    pub association: String,
    pub district_id: DistrictId,
    pub status: Option<SafetyStatus>,
    pub note: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
    pub on_behalf: bool,
    pub answered_by: Option<String>,
    /// Once answered needs_help, whatever the answer is now.
    pub asked_for_help: bool,
}

/// How the status is grouped; only the han grouping lists households.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Officers and 班長: per han, with the visit lists.
    Han,
    /// District officers: counts per association.
    Association,
    /// City staff: counts per district.
    District,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupCounts {
    /// The han, association or district.
    pub id: Option<String>,
    /// Its name (null for households without a han).
    pub name: Option<String>,
    pub households: i64,
    pub answered: i64,
    pub safe: i64,
    pub needs_help: i64,
    pub unanswered: i64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UnansweredHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HelpHousehold {
    pub household_id: HouseholdId,
    pub label: String,
    pub han_id: Option<HanId>,
    pub han: Option<String>,
    pub paper: bool,
    pub note: Option<String>,
    pub answered_at: DateTime<Utc>,
    /// Who answered (a member, or the officer or 班長 who visited).
    pub answered_by: Option<String>,
    pub on_behalf: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SafetyStatusResponse {
    /// open or closed.
    pub status: &'static str,
    /// han (officers, 班長), association (district officers) or district (city staff).
    pub grouped_by: &'static str,
    /// Households the check reaches, within what you may see.
    pub households: i64,
    pub answered: i64,
    pub safe: i64,
    pub needs_help: i64,
    /// Per han, association or district; those with households needing help first.
    pub groups: Vec<GroupCounts>,
    /// Not yet answered, by han then label: the visit list. Empty for district officers and
    /// city staff, who see counts only.
    pub unanswered: Vec<UnansweredHousehold>,
    /// Needing help, by han then label. Empty for counts-only viewers.
    pub help: Vec<HelpHousehold>,
    /// Once answered needs_help but safe now: worth a visit before the help is struck off.
    /// Empty for counts-only viewers.
    pub help_withdrawn: Vec<HelpHousehold>,
}

impl SafetyStatusResponse {
    /// Households listed by name: what an audit entry of the read counts.
    pub fn listed(&self) -> usize {
        self.unanswered.len() + self.help.len() + self.help_withdrawn.len()
    }
}

fn help_row(row: &StatusRow) -> HelpHousehold {
    HelpHousehold {
        household_id: row.household_id.clone(),
        label: row.label.clone(),
        han_id: row.han_id.clone(),
        han: row.han.clone(),
        paper: row.paper,
        note: row.note.clone(),
        answered_at: row.answered_at.unwrap_or_default().and_utc(),
        answered_by: row.answered_by.clone(),
        on_behalf: row.on_behalf,
    }
}

/// Groups the rows (already limited to what the caller may see, by han then label). District
/// names come from `district_names`: households, labels and notes never leave for staff.
pub fn group_status(
    rows: &[StatusRow],
    grouping: Grouping,
    closed: bool,
    district_names: &BTreeMap<DistrictId, String>,
) -> SafetyStatusResponse {
    let lists = grouping == Grouping::Han;
    let mut groups: BTreeMap<Option<String>, GroupCounts> = BTreeMap::new();
    let mut response = SafetyStatusResponse {
        status: if closed { "closed" } else { "open" },
        grouped_by: match grouping {
            Grouping::Han => "han",
            Grouping::Association => "association",
            Grouping::District => "district",
        },
        households: 0,
        answered: 0,
        safe: 0,
        needs_help: 0,
        groups: Vec::new(),
        unanswered: Vec::new(),
        help: Vec::new(),
        help_withdrawn: Vec::new(),
    };
    for row in rows {
        let (key, name) = match grouping {
            Grouping::Han => (row.han_id.as_ref().map(|h| h.to_string()), row.han.clone()),
            Grouping::Association => (
                Some(row.association_id.to_string()),
                Some(row.association.clone()),
            ),
            Grouping::District => (
                Some(row.district_id.to_string()),
                district_names.get(&row.district_id).cloned(),
            ),
        };
        let group = groups.entry(key.clone()).or_insert_with(|| GroupCounts {
            id: key,
            name,
            households: 0,
            answered: 0,
            safe: 0,
            needs_help: 0,
            unanswered: 0,
        });
        let safe = row.status == Some(SafetyStatus::Safe);
        let help = row.status == Some(SafetyStatus::NeedsHelp);
        group.households += 1;
        group.answered += i64::from(row.status.is_some());
        group.safe += i64::from(safe);
        group.needs_help += i64::from(help);
        group.unanswered += i64::from(row.status.is_none());
        response.households += 1;
        response.answered += i64::from(row.status.is_some());
        response.safe += i64::from(safe);
        response.needs_help += i64::from(help);
        if lists {
            match row.status {
                None => response.unanswered.push(UnansweredHousehold {
                    household_id: row.household_id.clone(),
                    label: row.label.clone(),
                    han_id: row.han_id.clone(),
                    han: row.han.clone(),
                    paper: row.paper,
                }),
                Some(SafetyStatus::NeedsHelp) => response.help.push(help_row(row)),
                Some(SafetyStatus::Safe) if row.asked_for_help => {
                    response.help_withdrawn.push(help_row(row));
                }
                Some(SafetyStatus::Safe) => {}
            }
        }
    }
    let mut groups: Vec<GroupCounts> = groups.into_values().collect();
    // Help first, then by name (households without a han last).
    groups.sort_by(|a, b| {
        b.needs_help
            .cmp(&a.needs_help)
            .then(a.name.is_none().cmp(&b.name.is_none()))
            .then(a.name.cmp(&b.name))
    });
    response.groups = groups;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(household: &str, han: Option<&str>, status: Option<SafetyStatus>) -> StatusRow {
        StatusRow {
            household_id: HouseholdId(household.into()),
            label: household.into(),
            paper: false,
            han_id: han.map(|h| HanId(h.into())),
            han: han.map(|h| format!("{h}班")),
            association_id: AssociationId("a1".into()),
            association: "中町".into(),
            district_id: DistrictId("d1".into()),
            status,
            note: None,
            answered_at: None,
            on_behalf: false,
            answered_by: None,
            asked_for_help: false,
        }
    }

    #[test]
    fn han_grouping_lists_the_unanswered_and_those_needing_help_first() {
        let mut withdrawn = row("h4", Some("1"), Some(SafetyStatus::Safe));
        withdrawn.asked_for_help = true;
        let rows = [
            row("h1", Some("1"), Some(SafetyStatus::Safe)),
            row("h2", Some("1"), None),
            row("h3", Some("2"), Some(SafetyStatus::NeedsHelp)),
            withdrawn,
            row("h5", None, None),
        ];
        let s = group_status(&rows, Grouping::Han, false, &BTreeMap::new());
        assert_eq!((s.status, s.grouped_by), ("open", "han"));
        assert_eq!(
            (s.households, s.answered, s.safe, s.needs_help),
            (5, 3, 2, 1)
        );
        let order: Vec<_> = s.groups.iter().map(|g| g.name.clone()).collect();
        assert_eq!(
            order,
            [Some("2班".to_string()), Some("1班".to_string()), None]
        );
        assert_eq!(s.groups[1].unanswered, 1);
        let unanswered: Vec<_> = s.unanswered.iter().map(|h| h.label.as_str()).collect();
        assert_eq!(unanswered, ["h2", "h5"]);
        assert_eq!(s.help.len(), 1);
        assert_eq!(s.help_withdrawn[0].label, "h4");
        assert_eq!(s.listed(), 4);
    }

    #[test]
    fn counts_only_groupings_list_no_household() {
        let rows = [
            row("h1", Some("1"), Some(SafetyStatus::NeedsHelp)),
            row("h2", None, None),
        ];
        let names = BTreeMap::from([(DistrictId("d1".into()), "東部".to_string())]);
        let s = group_status(&rows, Grouping::District, true, &names);
        assert_eq!((s.status, s.grouped_by), ("closed", "district"));
        assert_eq!(s.groups.len(), 1);
        assert_eq!(s.groups[0].name.as_deref(), Some("東部"));
        assert_eq!(s.groups[0].households, 2);
        assert_eq!(s.listed(), 0);
        let s = group_status(&rows, Grouping::Association, false, &names);
        assert_eq!(s.groups[0].name.as_deref(), Some("中町"));
        assert_eq!(s.listed(), 0);
    }

    #[test]
    fn no_rows_no_groups() {
        let s = group_status(&[], Grouping::Han, false, &BTreeMap::new());
        assert_eq!(s.households, 0);
        assert!(s.groups.is_empty());
    }
}
