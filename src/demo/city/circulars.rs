//! Months of circulars with their audiences, surveys, reads, confirmations and answers.

use super::*;

impl Builder<'_> {
    /// Month by month: the city's, each district's and each association's circulars once
    /// they use the app, then this month's survey in every association.
    pub(super) fn circulars(&mut self) -> anyhow::Result<()> {
        let months = self.scale.months;
        let bar = self.bar(u64::from(months) + 1, "circulars");
        for m in 0..months {
            let from = self.start + Duration::days(i64::from(m) * 30);
            let to = (from + Duration::days(30)).min(self.anchor - Duration::hours(1));
            for _ in 0..self.count(self.scale.city_posts_per_month) {
                let at = self.random_moment(from, to);
                self.circular(Audience::City, at, false)?;
            }
            for d in 0..self.areas.len() {
                if self.areas[d].adopted > from {
                    continue;
                }
                for _ in 0..self.count(self.scale.district_posts_per_month) {
                    let at = self.random_moment(from, to);
                    self.circular(Audience::District(d), at, false)?;
                }
            }
            for t in 0..self.towns.len() {
                if self.towns[t].adopted > from {
                    continue;
                }
                for _ in 0..self.count(self.scale.association_posts_per_month) {
                    let at = self.random_moment(from, to);
                    // One in ten goes to a single han.
                    let audience = if self.chance(0.1) {
                        let han = self.rng.random_range(0..self.towns[t].hans.len());
                        Audience::Han(t, han)
                    } else {
                        Audience::Association(t)
                    };
                    self.circular(audience, at, false)?;
                }
            }
            bar.inc(1);
        }
        for t in 0..self.towns.len() {
            let at =
                self.anchor - Duration::days(10) + Duration::minutes(self.rng.random_range(0..600));
            self.circular(Audience::Association(t), at, true)?;
        }
        bar.finish();
        Ok(())
    }

    fn circular(
        &mut self,
        audience: Audience,
        at: NaiveDateTime,
        survey: bool,
    ) -> anyhow::Result<()> {
        let category = if survey {
            Category::Survey
        } else {
            let roll = self.rng.random_range(0..100);
            match (audience, roll) {
                (Audience::City, 0..40) => Category::Disaster,
                (Audience::City, _) => Category::Notice,
                (_, 0..35) => Category::Notice,
                (_, 35..55) => Category::Event,
                (_, 55..75) => Category::Garbage,
                (_, 75..85) => Category::Disaster,
                (_, 85..95) => Category::Recruitment,
                _ => Category::Other,
            }
        };
        let priority = if category == Category::Disaster && self.chance(0.4) {
            Priority::Urgent
        } else {
            Priority::Normal
        };
        let requires_confirmation = match category {
            Category::Notice | Category::Disaster | Category::Survey => self.chance(0.7),
            _ => self.chance(0.4),
        };
        let title = self
            .pick(names::titles(category))
            .replace("{m}", &at.month().to_string());
        let (tier, scope_id, author, hans) = match audience {
            Audience::City => (Tier::City, None, self.city_staff.clone(), vec![]),
            Audience::District(d) => (
                Tier::District,
                Some(self.areas[d].id.0.clone()),
                self.areas[d].officer.clone(),
                vec![],
            ),
            Audience::Association(t) => {
                let by_chair = self.chance(0.5);
                let town = &self.towns[t];
                let author = if by_chair { &town.chair } else { &town.officer };
                (
                    Tier::Association,
                    Some(town.id.0.clone()),
                    Some(author.clone()),
                    vec![],
                )
            }
            Audience::Han(t, h) => {
                let town = &self.towns[t];
                (
                    Tier::Association,
                    Some(town.id.0.clone()),
                    Some(town.officer.clone()),
                    vec![town.hans[h].clone()],
                )
            }
        };
        let Some(author) = author else {
            return Ok(());
        };
        let post = Post {
            id: PostId(self.id_at(at)),
            author_id: author,
            tier,
            scope_id,
            title,
            body: names::BODY.to_string(),
            category,
            priority,
            requires_confirmation,
            status: PostStatus::Published,
            published_at: Some(at),
            expires_at: None,
            answers_until: survey.then(|| self.anchor + Duration::days(14)),
            version: 1,
            created_at: at - Duration::hours(1),
            updated_at: at,
        };
        for key in post.audience(&hans).keys() {
            self.pending.audiences.push(PostAudience {
                scope_key: key,
                published_at: at,
                post_id: post.id.clone(),
                expires_at: None,
            });
        }
        for han in &hans {
            self.pending.post_hans.push(PostHan {
                post_id: post.id.clone(),
                han_id: han.clone(),
            });
        }
        let questions = if survey {
            self.questions(&post)
        } else {
            Vec::new()
        };
        let post_id = post.id.clone();
        self.pending.posts.push(post);
        self.report.posts += 1;

        let towns = match audience {
            Audience::City => 0..self.towns.len(),
            Audience::District(d) => self.areas[d].towns.clone(),
            Audience::Association(t) | Audience::Han(t, _) => t..t + 1,
        };
        let only_han = match audience {
            Audience::Han(_, h) => Some(h),
            _ => None,
        };
        for t in towns {
            for n in 0..self.towns[t].homes.len() {
                if only_han.is_some_and(|h| self.towns[t].homes[n].han != h) {
                    continue;
                }
                self.receipt(&post_id, at, t, n, tier, requires_confirmation, &questions);
            }
        }
        if self.pending.rows() >= FLUSH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn questions(&mut self, post: &Post) -> Vec<SurveyQuestion> {
        let specs: [(QuestionKind, &str, &[&str], bool); 3] = [
            (
                QuestionKind::SingleChoice,
                "参加しますか",
                &["参加する", "参加しない", "未定"],
                true,
            ),
            (QuestionKind::Number, "参加人数", &[], false),
            (QuestionKind::ShortText, "ご意見・ご要望", &[], false),
        ];
        let questions: Vec<SurveyQuestion> = specs
            .iter()
            .enumerate()
            .map(
                |(position, (kind, prompt, options, required))| SurveyQuestion {
                    id: QuestionId(self.id_at(post.created_at)),
                    post_id: post.id.clone(),
                    position: i32::try_from(position).unwrap_or(0),
                    kind: *kind,
                    prompt: (*prompt).to_string(),
                    options: Json(options.iter().map(|o| o.to_string()).collect()),
                    required: *required,
                },
            )
            .collect();
        self.pending.questions.extend(questions.iter().cloned());
        questions
    }

    /// Whether and when household `n` of town `t` read and confirmed a circular.
    #[allow(clippy::too_many_arguments)]
    fn receipt(
        &mut self,
        post: &PostId,
        at: NaiveDateTime,
        t: usize,
        n: usize,
        tier: Tier,
        requires_confirmation: bool,
        questions: &[SurveyQuestion],
    ) {
        let home = &self.towns[t].homes[n];
        if home.paper {
            // The 班長 hands the printed circular over and records the confirmation.
            if tier == Tier::Association && requires_confirmation && self.chance(0.7) {
                let when = at + Duration::minutes(self.rng.random_range(600..7200));
                if when <= self.anchor {
                    let household_id = self.towns[t].homes[n].id.clone();
                    let leader = self.towns[t].han_leaders[self.towns[t].homes[n].han].clone();
                    self.pending.receipts.push(HouseholdReceipt {
                        post_id: post.clone(),
                        household_id,
                        read_at: Some(when),
                        confirmed_at: Some(when),
                        paper_recorded_by: Some(leader),
                    });
                    self.report.reads += 1;
                    self.report.confirmations += 1;
                }
            }
            return;
        }
        let registered = home
            .members
            .iter()
            .take_while(|(_, since)| *since <= at)
            .count();
        if registered == 0 || !self.chance(0.8) {
            return;
        }
        let reader = self.rng.random_range(0..registered);
        // Most open a circular within hours, some days later: 1 minute to 3 days, log-uniform.
        let delay = (self.rng.random::<f64>() * 4320f64.ln()).exp();
        let read_at = at + Duration::minutes(delay as i64);
        if read_at > self.anchor {
            return;
        }
        let confirmed_at = (requires_confirmation && self.chance(0.85))
            .then(|| read_at + Duration::seconds(self.rng.random_range(5..600)))
            .filter(|when| *when <= self.anchor);
        let home = &self.towns[t].homes[n];
        let household_id = home.id.clone();
        let member_id = home.members[reader].0.clone();
        self.pending.reads.push(PostRead {
            post_id: post.clone(),
            member_id: member_id.clone(),
            household_id: household_id.clone(),
            read_at,
            confirmed_at,
        });
        self.pending.receipts.push(HouseholdReceipt {
            post_id: post.clone(),
            household_id: household_id.clone(),
            read_at: Some(read_at),
            confirmed_at,
            paper_recorded_by: None,
        });
        self.report.reads += 1;
        self.report.confirmations += usize::from(confirmed_at.is_some());
        if let [attend, head_count, _] = questions
            && self.chance(0.7)
        {
            let choice = self.rng.random_range(0..3);
            let mut answers = Answers::new();
            answers.insert(attend.id.clone(), Answer::Choice(choice));
            if choice == 0 {
                let people = self.rng.random_range(1..5);
                answers.insert(head_count.id.clone(), Answer::Number(people));
            }
            self.pending.responses.push(SurveyResponse {
                post_id: post.clone(),
                household_id,
                member_id,
                answers: Json(answers),
                answered_at: read_at,
            });
            self.report.survey_answers += 1;
        }
    }
}
