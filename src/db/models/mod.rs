//! Row structs, one per table. Each derives Insertable too, so a row can be written whole.

mod community;
mod idempotency;
mod membership;
mod posts;
mod safety;
mod stats;

pub use community::*;
pub use idempotency::*;
pub use membership::*;
pub use posts::*;
pub use safety::*;
pub use stats::*;

/// Stores a Rust enum as its snake_case text on both backends. The enum also derives
/// `AsExpression` and `FromSqlRow` with `sql_type = Text`.
#[macro_export]
macro_rules! text_enum {
    ($ty:ty) => {
        impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, DB>,
            ) -> diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for $ty
        where
            DB: diesel::backend::Backend,
            String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                text.parse::<$ty>().map_err(Into::into)
            }
        }
    };
}
