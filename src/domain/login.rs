use unicode_normalization::UnicodeNormalization;

/// A sign-in id: an email address (lower-cased) or a phone number (digits, optional '+').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let value: String = raw.trim().nfkc().collect::<String>().to_lowercase();
        if value.contains('@') {
            let valid = value.chars().count() <= 254
                && !value.chars().any(|c| c.is_whitespace() || c.is_control())
                && matches!(value.split_once('@'), Some((local, domain))
                    if !local.is_empty() && !domain.contains('@')
                        && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
            return if valid {
                Ok(Self(value))
            } else {
                Err("login must be an email address or a phone number".into())
            };
        }
        let phone: String = value
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '(' | ')'))
            .collect();
        let digits = phone.strip_prefix('+').unwrap_or(&phone);
        if (10..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(phone))
        } else {
            Err("login must be an email address or a phone number".into())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_phones_lose_separators() {
        assert_eq!(
            Login::parse(" Taro@Example.JP ").unwrap().as_str(),
            "taro@example.jp"
        );
        assert_eq!(
            Login::parse("090-1234-5678").unwrap().as_str(),
            "09012345678"
        );
        // Full-width digits typed on a Japanese keyboard.
        assert_eq!(
            Login::parse("０９０１２３４５６７８").unwrap().as_str(),
            "09012345678"
        );
    }

    #[test]
    fn other_strings_are_refused() {
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "a b@example.jp",
            "12345",
            "taro@localhost",
        ] {
            assert!(Login::parse(bad).is_err(), "{bad}");
        }
    }
}
