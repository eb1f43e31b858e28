DROP TABLE safety_answer_history;
DROP TABLE safety_answers;
DROP TABLE safety_check_audiences;
DROP TABLE safety_check_hans;
DROP TABLE safety_checks;
