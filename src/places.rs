//! Where every member of the city lives, in memory: the inbox and the audience check of a read
//! or confirmation need a member's household, han, association and districts, and in an
//! emergency nearly every member asking is one not seen for days. `InboxCache` holds one
//! `Directory`, loaded whole at start (`jobs::keep_places_loaded`) and kept current by what each
//! roster change names (`Moved`); a member it does not know is loaded from the database and
//! learnt.
//!
//! Compact (D83): ids are UUIDs kept as their 16 bytes, each household, han, association and
//! district once, and a member is one map entry pointing at their household by index.

use std::collections::HashMap;

use uuid::Uuid;

use crate::authz::Membership;
use crate::domain::{AssociationId, DistrictId, HanId, HouseholdId, MemberId};

/// No han, no household, no district.
const NONE: u32 = u32::MAX;

/// What a roster change moved: whose place must be read again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moved {
    /// Joined, moved to, or left a household; disabled or enabled.
    Member(MemberId),
    /// Moved to another han.
    Household(HouseholdId),
    /// Moved to another district (a merge).
    Association(AssociationId),
    /// Unknown (an instance of an older version announced it): everyone.
    Everyone,
}

/// Ids kept once each, numbered in order of first sight.
#[derive(Default)]
struct Ids {
    ids: Vec<[u8; 16]>,
    index: HashMap<[u8; 16], u32>,
}

impl Ids {
    fn find(&self, id: &str) -> Option<u32> {
        self.index.get(&key(id)?).copied()
    }

    fn intern(&mut self, id: &str) -> Option<u32> {
        let key = key(id)?;
        if let Some(&n) = self.index.get(&key) {
            return Some(n);
        }
        let n = u32::try_from(self.ids.len()).ok().filter(|&n| n < NONE)?;
        self.ids.push(key);
        self.index.insert(key, n);
        Some(n)
    }

    fn text(&self, n: u32) -> Option<String> {
        let bytes = self.ids.get(usize::try_from(n).ok()?)?;
        Some(Uuid::from_bytes(*bytes).hyphenated().to_string())
    }

    fn bytes(&self) -> usize {
        self.ids.capacity() * 16 + map_bytes(&self.index)
    }

    fn shrink(&mut self) {
        self.ids.shrink_to_fit();
        self.index.shrink_to_fit();
    }
}

/// The 16 bytes of an id written as `domain::new_id` writes it; `None` for any other text,
/// which is then not kept (such a member is loaded from the database each time).
pub(crate) fn key(id: &str) -> Option<[u8; 16]> {
    let uuid = Uuid::try_parse(id).ok()?;
    let mut buffer = Uuid::encode_buffer();
    (*uuid.hyphenated().encode_lower(&mut buffer) == *id).then_some(*uuid.as_bytes())
}

#[derive(Clone, Copy)]
struct HouseholdPlace {
    han: u32,
    association: u32,
    /// False after a change moved it, until a member's load reads it again.
    known: bool,
}

struct AssociationPlace {
    district: u32,
    /// Districts a merge moved it out of, oldest first (D57).
    former: Box<[u32]>,
    known: bool,
}

#[derive(Default)]
pub struct Directory {
    /// Member → index of their household, `NONE` outside any.
    members: HashMap<[u8; 16], u32>,
    households: Ids,
    household_places: Vec<HouseholdPlace>,
    hans: Ids,
    associations: Ids,
    association_places: Vec<AssociationPlace>,
    districts: Ids,
}

impl Directory {
    /// The member's place, when known and current.
    pub fn get(&self, member: &MemberId) -> Option<Membership> {
        let household = *self.members.get(&key(member.as_str())?)?;
        if household == NONE {
            return Some(Membership {
                member_id: member.clone(),
                household_id: None,
                han_id: None,
                association_id: None,
                district_id: None,
                former_districts: Vec::new(),
            });
        }
        let place = self
            .household_places
            .get(usize::try_from(household).ok()?)
            .filter(|p| p.known)?;
        let association = self
            .association_places
            .get(usize::try_from(place.association).ok()?)
            .filter(|a| a.known)?;
        let han_id = match place.han {
            NONE => None,
            han => Some(HanId(self.hans.text(han)?)),
        };
        let district_id = match association.district {
            NONE => None,
            district => Some(DistrictId(self.districts.text(district)?)),
        };
        let former_districts = association
            .former
            .iter()
            .map(|&d| self.districts.text(d).map(DistrictId))
            .collect::<Option<Vec<_>>>()?;
        Some(Membership {
            member_id: member.clone(),
            household_id: Some(HouseholdId(self.households.text(household)?)),
            han_id,
            association_id: Some(AssociationId(self.associations.text(place.association)?)),
            district_id,
            former_districts,
        })
    }

    /// Keeps a place just loaded from the database (and with it its household's and
    /// association's); one it cannot keep is forgotten instead.
    pub fn learn(&mut self, place: &Membership) {
        if self.try_learn(place).is_none()
            && let Some(member) = key(place.member_id.as_str())
        {
            self.members.remove(&member);
        }
    }

    fn try_learn(&mut self, place: &Membership) -> Option<()> {
        let member = key(place.member_id.as_str())?;
        let household = match &place.household_id {
            None => NONE,
            Some(household) => {
                let association = self.add_association(
                    place.association_id.as_ref()?,
                    place.district_id.as_ref(),
                    &place.former_districts,
                )?;
                self.put_household(household, place.han_id.as_ref(), association)?
            }
        };
        self.members.insert(member, household);
        Some(())
    }

    /// Forgets what moved; the next request of a member concerned loads their place again.
    pub fn forget(&mut self, moved: &Moved) {
        match moved {
            Moved::Member(member) => {
                if let Some(member) = key(member.as_str()) {
                    self.members.remove(&member);
                }
            }
            Moved::Household(household) => {
                let found = self.households.find(household.as_str());
                if let Some(place) = found.and_then(|n| self.household_places.get_mut(n as usize)) {
                    place.known = false;
                }
            }
            Moved::Association(association) => {
                let found = self.associations.find(association.as_str());
                if let Some(place) = found.and_then(|n| self.association_places.get_mut(n as usize))
                {
                    place.known = false;
                }
            }
            Moved::Everyone => *self = Self::default(),
        }
    }

    /// An association's district and former districts; its index.
    pub fn add_association(
        &mut self,
        id: &AssociationId,
        district: Option<&DistrictId>,
        former: &[DistrictId],
    ) -> Option<u32> {
        let district = match district {
            None => NONE,
            Some(d) => self.districts.intern(d.as_str())?,
        };
        let former = former
            .iter()
            .map(|d| self.districts.intern(d.as_str()))
            .collect::<Option<Box<[u32]>>>()?;
        let n = self.associations.intern(id.as_str())?;
        let place = AssociationPlace {
            district,
            former,
            known: true,
        };
        put(&mut self.association_places, n, place);
        Some(n)
    }

    /// A household of an association added before (or of one unknown: then its members are
    /// loaded from the database until one load reads the association).
    pub fn add_household(
        &mut self,
        id: &HouseholdId,
        han: Option<&HanId>,
        association: &AssociationId,
    ) -> Option<u32> {
        let association = match self.associations.find(association.as_str()) {
            Some(n) => n,
            None => {
                let n = self.associations.intern(association.as_str())?;
                self.association_places.push(AssociationPlace {
                    district: NONE,
                    former: Box::new([]),
                    known: false,
                });
                n
            }
        };
        self.put_household(id, han, association)
    }

    fn put_household(
        &mut self,
        id: &HouseholdId,
        han: Option<&HanId>,
        association: u32,
    ) -> Option<u32> {
        let han = match han {
            None => NONE,
            Some(h) => self.hans.intern(h.as_str())?,
        };
        let n = self.households.intern(id.as_str())?;
        let place = HouseholdPlace {
            han,
            association,
            known: true,
        };
        put(&mut self.household_places, n, place);
        Some(n)
    }

    /// An enabled member in a household added before, or in none.
    pub fn add_member(&mut self, id: &MemberId, household: Option<&HouseholdId>) {
        let Some(member) = key(id.as_str()) else {
            return;
        };
        let household = match household {
            None => Some(NONE),
            Some(h) => self.households.find(h.as_str()),
        };
        if let Some(household) = household {
            self.members.insert(member, household);
        }
    }

    /// Gives back what growing left spare (after a whole reload).
    pub fn shrink(&mut self) {
        self.members.shrink_to_fit();
        self.households.shrink();
        self.household_places.shrink_to_fit();
        self.hans.shrink();
        self.associations.shrink();
        self.association_places.shrink_to_fit();
        self.districts.shrink();
    }

    pub fn members(&self) -> usize {
        self.members.len()
    }

    /// About what it occupies on the heap.
    pub fn bytes(&self) -> usize {
        map_bytes(&self.members)
            + self.households.bytes()
            + self.household_places.capacity() * size_of::<HouseholdPlace>()
            + self.hans.bytes()
            + self.associations.bytes()
            + self.association_places.capacity() * size_of::<AssociationPlace>()
            + self.districts.bytes()
    }
}

/// Sets the place of id number `n`: a new one is the next (`Ids` numbers in order).
fn put<T>(places: &mut Vec<T>, n: u32, place: T) {
    match places.get_mut(n as usize) {
        Some(slot) => *slot = place,
        None => places.push(place),
    }
}

/// A hash map's table: its buckets (a power of two at most 7/8 full) each hold an entry and
/// one control byte.
fn map_bytes<K, V>(map: &HashMap<K, V>) -> usize {
    let buckets = (map.capacity() * 8 / 7).next_power_of_two();
    buckets * (size_of::<(K, V)>() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::new_id;

    fn place(household: Option<&str>, han: Option<&str>) -> Membership {
        Membership {
            member_id: MemberId(new_id()),
            household_id: household.map(|h| HouseholdId(h.into())),
            han_id: han.map(|h| HanId(h.into())),
            association_id: household.map(|_| AssociationId(new_id())),
            district_id: household.map(|_| DistrictId(new_id())),
            former_districts: vec![DistrictId(new_id())],
        }
    }

    #[test]
    fn a_learnt_place_reads_back_whole_until_what_moved_is_forgotten() {
        let household = new_id();
        let han = new_id();
        let mut directory = Directory::default();
        let member = place(Some(&household), Some(&han));
        directory.learn(&member);
        let read = directory.get(&member.member_id);
        assert_eq!(format!("{read:?}"), format!("{:?}", Some(member.clone())));
        directory.forget(&Moved::Household(HouseholdId(household)));
        assert!(directory.get(&member.member_id).is_none());
        directory.learn(&member);
        directory.forget(&Moved::Association(member.association_id.clone().unwrap()));
        assert!(directory.get(&member.member_id).is_none());
        directory.learn(&member);
        directory.forget(&Moved::Member(member.member_id.clone()));
        assert!(directory.get(&member.member_id).is_none());
    }

    /// About Kanazawa's demo city: 202,291 members in 144,000 households, ten to a han.
    #[test]
    fn a_city_the_size_of_kanazawa_takes_about_80_bytes_a_member() {
        let mut directory = Directory::default();
        let associations: Vec<AssociationId> =
            (0..1_300).map(|_| AssociationId(new_id())).collect();
        for association in &associations {
            let district = DistrictId(new_id());
            directory.add_association(association, Some(&district), &[]);
        }
        let households: Vec<HouseholdId> = (0..144_000).map(|_| HouseholdId(new_id())).collect();
        let hans: Vec<HanId> = (0..14_400).map(|_| HanId(new_id())).collect();
        for (n, household) in households.iter().enumerate() {
            let association = &associations[n % associations.len()];
            directory.add_household(household, Some(&hans[n / 10]), association);
        }
        for n in 0..202_291 {
            directory.add_member(&MemberId(new_id()), Some(&households[n % households.len()]));
        }
        directory.shrink();
        let bytes = directory.bytes();
        eprintln!("{bytes} bytes, {} a member", bytes / directory.members());
        assert_eq!(directory.members(), 202_291);
        assert!(bytes < 20_000_000, "{bytes} bytes");
    }

    #[test]
    fn ids_that_are_not_canonical_uuids_are_not_kept() {
        let mut directory = Directory::default();
        let upper = place(Some(&new_id().to_uppercase()), None);
        directory.learn(&upper);
        assert!(directory.get(&upper.member_id).is_none());
        let outside = place(None, None);
        directory.learn(&outside);
        assert!(directory.get(&outside.member_id).is_some());
        assert!(directory.get(&MemberId("someone".into())).is_none());
    }
}
