//! Plain synchronous functions over `&mut AnyConnection`, one module per aggregate.

pub mod districts;
pub mod members;
