//! Domain values and product rules. Nothing here does IO: values are parsed once at the
//! edge ("parse, don't validate") and the rules are plain functions over them.

pub mod fields;
pub mod rules;
pub mod stats;

pub use fields::{Announcement, Category, CategoryList, Description, Gender, GroupName, Location, Nickname};
pub use rules::{Role, Viewer};
