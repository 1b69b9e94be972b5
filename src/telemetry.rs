//! Logging: tracing to standard error, filtered by `RUST_LOG` (default `info`), as text or
//! as one JSON object a line. PostgreSQL's notices ("already exists, skipping") reach the
//! log only as warnings and above.

use tracing_subscriber::EnvFilter;

pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let filter = filter.add_directive("postgres=warn".parse().expect("a valid directive"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}
