DROP TABLE jwt_keys;
DROP TABLE server_secrets;
