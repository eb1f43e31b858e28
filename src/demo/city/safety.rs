//! Past safety checks (drills and an earthquake) and their answers.

use super::*;

impl Builder<'_> {
    /// Past safety checks, all closed: each district's 防災訓練 once a year, about six weeks
    /// ago, and the city-wide check after an earthquake when the scale has one.
    pub(super) fn safety_checks(&mut self) -> anyhow::Result<()> {
        if self.scale.earthquake_days_ago > 0 {
            let at = self.anchor - Duration::days(i64::from(self.scale.earthquake_days_ago))
                + Duration::minutes(self.rng.random_range(0..1440));
            let message = names::EARTHQUAKE_MESSAGE.to_string();
            self.safety_check(Audience::City, at, Duration::hours(72), message)?;
        }
        for year in 0..i64::from(self.scale.drill_years) {
            for d in 0..self.areas.len() {
                // Districts take turns over a week; drills start at 10:00 JST (01:00 UTC).
                let day = 45 + 364 * year - i64::try_from(d % 7)?;
                let at = self.anchor - Duration::days(day) + Duration::hours(1);
                if self.areas[d].adopted > at {
                    continue;
                }
                let message = names::DRILL_MESSAGE.replace("{d}", &self.areas[d].name);
                self.safety_check(Audience::District(d), at, Duration::hours(48), message)?;
            }
        }
        Ok(())
    }

    /// One closed check and its answers, from the households its audience had when it
    /// started (a district that did not use the app yet is not asked).
    fn safety_check(
        &mut self,
        audience: Audience,
        started: NaiveDateTime,
        open_for: Duration,
        message: String,
    ) -> anyhow::Result<()> {
        let (tier, scope_id, starter, towns) = match audience {
            Audience::City => (
                Tier::City,
                None,
                self.city_staff.clone(),
                0..self.towns.len(),
            ),
            Audience::District(d) => (
                Tier::District,
                Some(self.areas[d].id.0.clone()),
                self.areas[d].officer.clone(),
                self.areas[d].towns.clone(),
            ),
            Audience::Association(_) | Audience::Han(..) => return Ok(()),
        };
        let Some(starter) = starter else {
            return Ok(());
        };
        let closes = (started + open_for).min(self.anchor);
        let check = SafetyCheck {
            id: SafetyCheckId(self.id_at(started)),
            started_by: starter.clone(),
            tier,
            scope_id,
            message,
            started_at: started,
            closed_at: Some(closes),
            closed_by: Some(starter),
        };
        let reach = Reach {
            tier,
            scope_id: check.scope_id.as_deref(),
            hans: &[],
        };
        for key in reach.keys() {
            self.pending.check_audiences.push(SafetyCheckAudience {
                scope_key: key,
                safety_check_id: check.id.clone(),
            });
        }
        let id = check.id.clone();
        self.pending.checks.push(check);
        self.report.safety_checks += 1;
        for t in towns {
            if self.towns[t].adopted > started {
                continue;
            }
            for n in 0..self.towns[t].homes.len() {
                self.safety_answer(&id, started, closes, t, n);
            }
        }
        if self.pending.rows() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether, when and how household `n` of town `t` answered a check.
    fn safety_answer(
        &mut self,
        check: &SafetyCheckId,
        started: NaiveDateTime,
        closes: NaiveDateTime,
        t: usize,
        n: usize,
    ) {
        let (paper, han) = (self.towns[t].homes[n].paper, self.towns[t].homes[n].han);
        let (answered_by, on_behalf, when) = if paper {
            // The 班長 or an officer visits and answers for the household.
            if !self.chance(0.9) {
                return;
            }
            let visitor = if self.chance(0.5) {
                self.towns[t].officer.clone()
            } else {
                self.towns[t].han_leaders[han].clone()
            };
            // Visits begin a couple of hours in and go on while the check is open.
            let span = (closes - started).num_minutes().max(121);
            let when = started + Duration::minutes(self.rng.random_range(120..span));
            (visitor, true, when)
        } else {
            let registered = self.towns[t].homes[n]
                .members
                .iter()
                .take_while(|(_, since)| *since <= started)
                .count();
            if registered == 0 || !self.chance(0.85) {
                return;
            }
            let who = self.rng.random_range(0..registered);
            // Most answer within the hour, some the next day: 1 minute to 30 hours, log-uniform.
            let delay = (self.rng.random::<f64>() * 1800f64.ln()).exp();
            let member = self.towns[t].homes[n].members[who].0.clone();
            (member, false, started + Duration::minutes(delay as i64))
        };
        if when > closes {
            return;
        }
        let (status, note) = if self.chance(0.04) {
            let note = self.pick(names::HELP_NOTES).to_string();
            (SafetyStatus::NeedsHelp, Some(note))
        } else {
            (SafetyStatus::Safe, None)
        };
        let answer = SafetyAnswer {
            safety_check_id: check.clone(),
            household_id: self.towns[t].homes[n].id.clone(),
            status,
            note,
            answered_by,
            on_behalf,
            answered_at: when,
        };
        let history_id = self.id_at(when);
        self.pending.answer_history.push(answer.record(history_id));
        self.pending.answers.push(answer);
        self.report.safety_answers += 1;
    }
}
