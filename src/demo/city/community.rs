//! The community: associations, hans, households, members with their roles, and push
//! subscriptions.

use super::*;

impl Builder<'_> {
    pub(super) fn community(&mut self, districts: Vec<DistrictRow>) -> anyhow::Result<()> {
        let scale = self.scale;
        let bar = self.bar(u64::try_from(scale.households)?, "households");
        let towns_per_area = self.split(scale.associations, districts.len(), 3);
        let homes_per_town = self.split(scale.households, scale.associations, 8);
        // One in `paper_every` households gets printed circulars; the rest have 1 or 2 members.
        let online = scale.households - scale.households * scale.paper_percent / 100;
        let extra_member = (scale.members as f64 / online as f64 - 1.0).clamp(0.0, 1.0);

        let staff_at = self.start;
        let city = self.new_member(None, Some("city"), "金沢市 市民協働推進課".into(), staff_at);
        self.grant(&city, Role::CityStaff, None, staff_at);
        self.known("city", "city_staff", "金沢市".into());
        let admin = self.new_member(None, Some("admin"), "管理者".into(), staff_at);
        self.grant(&admin, Role::Admin, None, staff_at);
        self.known("admin", "admin", "金沢市".into());
        self.city_staff = Some(city);

        for (d, district) in districts.into_iter().enumerate() {
            let adopted = self.adoption(d);
            let first = self.towns.len();
            for t in 0..towns_per_area[d] {
                let homes = homes_per_town[self.towns.len()];
                let town = self.town(&district, d, t, homes, adopted, extra_member)?;
                self.towns.push(town);
                bar.inc(u64::try_from(homes)?);
                if self.pending.rows() >= FLUSH_ROWS {
                    self.flush()?;
                }
            }
            // The district's officer is the chair of its second association (or its first).
            let officer = self
                .towns
                .get(first + 1)
                .or(self.towns.get(first))
                .map(|t| t.chair.clone());
            if let Some(officer) = &officer {
                self.grant(
                    officer,
                    Role::DistrictOfficer,
                    Some(district.id.0.clone()),
                    adopted,
                );
            }
            self.areas.push(Area {
                id: district.id,
                name: district.name,
                adopted,
                towns: first..self.towns.len(),
                officer,
            });
        }
        self.report.districts = self.areas.len();
        bar.finish();
        self.flush()
    }

    fn town(
        &mut self,
        district: &DistrictRow,
        d: usize,
        t: usize,
        homes: usize,
        adopted: NaiveDateTime,
        extra_member: f64,
    ) -> anyhow::Result<Town> {
        let id = AssociationId(self.id_at(adopted));
        let name = names::association_name(&district.name, t);
        let member_households = i32::try_from(homes)?;
        self.pending.associations.push(Association {
            id: id.clone(),
            district_id: district.id.clone(),
            name: name.clone(),
            name_kana: None,
            member_households,
            // Kanazawa's membership rate is 68.3 %.
            area_households: Some(member_households * 1000 / 683),
            archived: false,
            created_at: adopted,
            updated_at: adopted,
        });
        let han_count = homes.div_ceil(HAN_SIZE).max(2);
        let han_ids: Vec<HanId> = (0..han_count)
            .map(|h| {
                let han = HanId(self.id_at(adopted));
                self.pending.hans.push(Han {
                    id: han.clone(),
                    association_id: id.clone(),
                    name: format!("{}班", h + 1),
                    created_at: adopted,
                });
                han
            })
            .collect();
        self.report.hans += han_count;

        let mut town_homes = Vec::with_capacity(homes);
        for n in 0..homes {
            let han = n * han_count / homes;
            // The last household of each han is its 班長's.
            let leads_han = n + 1 == homes || (n + 1) * han_count / homes != han;
            // Those who hold a role (chair, officer, 班長) are online and registered first.
            let holds_role = n < 2 || leads_han;
            let paper =
                n > 2 && !holds_role && self.chance(self.scale.paper_percent as f64 / 100.0);
            let home_id = HouseholdId(self.id_at(adopted));
            let surname = self.pick(names::SURNAMES);
            self.pending.households.push(Household {
                id: home_id.clone(),
                association_id: id.clone(),
                han_id: Some(han_ids[han].clone()),
                label: format!("{surname}家"),
                paper,
                created_at: adopted,
                updated_at: adopted,
            });
            self.report.households += 1;
            let mut people = Vec::new();
            if paper {
                self.report.paper_households += 1;
            } else {
                let count = 1 + usize::from(self.chance(extra_member));
                for k in 0..count {
                    // The others registered over the first half of the time since.
                    let at = if holds_role || n == 2 {
                        adopted
                    } else {
                        let half = adopted + (self.anchor - adopted) / 2;
                        self.random_moment(adopted, half)
                    };
                    let login = match (d, t, n, k, han) {
                        (0, 0, 0, 0, _) => Some("chair"),
                        (0, 0, 1, 0, _) => Some("officer"),
                        (0, 0, 2, 0, _) => Some("resident"),
                        (0, 0, _, 0, 0) if leads_han => Some("hanchou"),
                        (0, 1, 0, 0, _) => Some("district"),
                        _ => None,
                    };
                    let display = self.person_name(surname);
                    let member = self.new_member(Some(&home_id), login, display, at);
                    self.grant(&member, Role::Resident, Some(id.0.clone()), at);
                    people.push((member, at));
                }
                people.sort_by_key(|(_, at)| *at);
            }
            town_homes.push(Home {
                id: home_id,
                han,
                paper,
                members: people,
            });
        }

        let first_member = |n: usize| town_homes[n].members[0].0.clone();
        let chair = first_member(0);
        let officer = first_member(1);
        self.grant(&chair, Role::Chair, Some(id.0.clone()), adopted);
        self.grant(&officer, Role::Officer, Some(id.0.clone()), adopted);
        let mut han_leaders = Vec::with_capacity(han_count);
        for (h, han) in han_ids.iter().enumerate() {
            let last = (0..homes)
                .rev()
                .find(|n| n * han_count / homes == h)
                .unwrap_or(0);
            let leader = first_member(last);
            self.grant(&leader, Role::HanLeader, Some(han.0.clone()), adopted);
            han_leaders.push(leader);
        }
        match (d, t) {
            (0, 0) => {
                self.known("chair", "chair", name.clone());
                self.known("officer", "officer", name.clone());
                self.known("hanchou", "han_leader", format!("{name} 1班"));
                self.known("resident", "resident", format!("{name} 1班"));
            }
            (0, 1) => self.known(
                "district",
                "district_officer",
                format!("{}校下 ({name} 町会長)", district.name),
            ),
            _ => {}
        }
        Ok(Town {
            id,
            adopted,
            hans: han_ids,
            homes: town_homes,
            chair,
            officer,
            han_leaders,
        })
    }

    /// Push subscriptions at the loopback push service, one a member in turn (so some
    /// members have two devices). Keys are real P-256 points derived from the seed.
    pub(super) fn subscriptions(&mut self) -> anyhow::Result<()> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let wanted = self.scale.subscriptions;
        if wanted == 0 {
            return Ok(());
        }
        let mut keys = Vec::with_capacity(64);
        while keys.len() < 64 {
            let mut secret = [0u8; 32];
            self.rng.fill_bytes(&mut secret);
            let Ok(secret) = p256::SecretKey::from_slice(&secret) else {
                continue;
            };
            let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &secret.public_key(),
                false,
            );
            let mut auth = [0u8; 16];
            self.rng.fill_bytes(&mut auth);
            keys.push((
                URL_SAFE_NO_PAD.encode(point.as_bytes()),
                URL_SAFE_NO_PAD.encode(auth),
            ));
        }
        let people: Vec<(MemberId, NaiveDateTime)> = self
            .towns
            .iter()
            .flat_map(|t| t.homes.iter().flat_map(|h| h.members.iter().cloned()))
            .collect();
        if people.is_empty() {
            return Ok(());
        }
        let bar = self.bar(u64::try_from(wanted)?, "push");
        let base = self.push_endpoint.trim_end_matches('/').to_string();
        for i in 0..wanted {
            let (member, at) = &people[i % people.len()];
            let (p256dh, auth) = keys[i % keys.len()].clone();
            let id = PushSubscriptionId(self.id_at(*at));
            self.pending.subscriptions.push(PushSubscription {
                id,
                member_id: member.clone(),
                endpoint: format!("{base}/demo/{i}"),
                p256dh,
                auth,
                created_at: *at,
            });
            if self.pending.rows() >= FLUSH_ROWS {
                self.flush()?;
                bar.set_position(u64::try_from(i)?);
            }
        }
        self.report.subscriptions = wanted;
        bar.finish();
        self.flush()
    }
}
