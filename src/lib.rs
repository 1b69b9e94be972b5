//! groupscout: group discovery and recommendation over SQLite (the truth) and tantivy (derived).

pub mod auth;
pub mod config;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod geo;
pub mod index;
pub mod jobs;
pub mod limits;
pub mod memory;
pub mod moderation;
pub mod ranking;
pub mod recommend;
pub mod routes;
pub mod service;
pub mod startup;
pub mod store;
pub mod telemetry;
