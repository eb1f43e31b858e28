//! A typed JSON value kept in a text column: parsed when the row is read and written when it
//! is stored, so the rest of the code sees `Vec<String>` or a `Rule`, never a JSON string.
//! Text rather than PostgreSQL's `jsonb` keeps one schema for both backends; nothing queries
//! inside these values.

use std::fmt::Debug;
use std::io::Write;

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::Text;
use diesel::sqlite::Sqlite;
use diesel::{AsExpression, FromSqlRow};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::MultiBackend;

#[derive(Debug, Clone, PartialEq, Default, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub struct Json<T: Debug + Serialize + DeserializeOwned + Send + Sync + 'static>(pub T);

impl<T: Debug + Serialize + DeserializeOwned + Send + Sync, DB> FromSql<Text, DB> for Json<T>
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        Ok(Self(serde_json::from_str(&text)?))
    }
}

impl<T: Debug + Serialize + DeserializeOwned + Send + Sync> ToSql<Text, Pg> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        serde_json::to_writer(&mut *out, &self.0)?;
        out.flush()?;
        Ok(IsNull::No)
    }
}

impl<T: Debug + Serialize + DeserializeOwned + Send + Sync> ToSql<Text, Sqlite> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: Debug + Serialize + DeserializeOwned + Send + Sync> ToSql<Text, MultiBackend> for Json<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((Text, self));
        Ok(IsNull::No)
    }
}
