//! Black-box tests of the HTTP API: one binary, a module per feature.

mod helpers;

mod activity;
mod auth;
mod discovery;
mod exact_totals;
mod explain;
mod faults;
mod fixtures;
mod groups;
mod hostile;
mod limits;
mod metrics;
mod moderation;
mod openapi;
mod page;
mod paging;
mod privacy;
mod readme;
mod recommend;
mod served_totals;
mod users;
mod validation;
