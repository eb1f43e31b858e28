DROP TABLE member_preferences;
DROP TABLE sign_in_codes;
DROP TABLE web_sessions;
