//! Configuration: command-line flags override environment variables, which override
//! `groupscout.toml`, which overrides the built-in defaults.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

/// The limits of one user tier.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Tier {
    /// How many groups a user of this tier may own at once.
    pub max_groups: u32,
    /// The capacity of a group this user creates.
    pub capacity: u32,
}

/// The product rules of SPEC §1; every number is configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Rules {
    pub min_mutual_friends: u32,
    pub tiers: BTreeMap<String, Tier>,
    /// Below this many members a card shows neither `female_count` nor `avg_age`, so a
    /// small group's card does not reveal one person's gender or age (SPEC §5).
    pub privacy_min_members: i64,
    /// The screen's model holds a text at this probability or above (SPEC §5; the lists'
    /// findings are held whatever the model says).
    pub screen_hold: f32,
    /// The model lists a text for review (status `review`, SPEC §7) from this probability.
    pub screen_review: f32,
    /// This many people reporting a clear group list it for review (SPEC §7).
    pub report_review: i64,
    /// ... and this many hold it, pending review.
    pub report_hold: i64,
    /// Reports one person may file in an hour; past that, 429 `rate_limited`.
    pub reports_per_hour: i64,
}

impl Default for Rules {
    fn default() -> Self {
        let mut tiers = BTreeMap::new();
        tiers.insert("normal".to_string(), Tier { max_groups: 4, capacity: 200 });
        tiers.insert("creator".to_string(), Tier { max_groups: 20, capacity: 1000 });
        Rules {
            min_mutual_friends: 1,
            tiers,
            privacy_min_members: 5,
            screen_hold: 0.9,
            screen_review: 0.5,
            report_review: 3,
            report_hold: 10,
            reports_per_hour: 20,
        }
    }
}

impl Rules {
    /// The tier's limits; an unknown tier falls back to `normal`.
    pub fn tier(&self, name: &str) -> Tier {
        self.tiers
            .get(name)
            .or_else(|| self.tiers.get("normal"))
            .cloned()
            .unwrap_or(Tier { max_groups: 4, capacity: 200 })
    }
}

/// Weights of the blended relevance score (see `ranking.rs`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RankingWeights {
    /// Weight of ln(1 + yesterday_messages) in the quality factor.
    pub messages: f32,
    /// Weight of ln(1 + active_members) in the quality factor.
    pub active: f32,
    /// Weight of the share of room left in the quality factor.
    pub room: f32,
    /// Distance (km) at which the proximity factor has decayed to one half.
    pub half_distance_km: f32,
    /// How much proximity can move the score: factor = 1 - w + w * decay.
    pub proximity: f32,
    /// Text scores of a word's synonyms count this much (a word as typed counts 1).
    pub synonym: f32,
    /// Text scores of a typo's corrections count this much.
    pub typo: f32,
    /// Text scores of a word's related terms count this much.
    pub related: f32,
}

impl Default for RankingWeights {
    fn default() -> Self {
        RankingWeights {
            messages: 0.08,
            active: 0.12,
            room: 0.1,
            half_distance_km: 5.0,
            proximity: 0.6,
            synonym: 1.0,
            typo: 0.8,
            related: 0.5,
        }
    }
}

/// The file form of the configuration (`groupscout.toml`); every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileConfig {
    bind: Option<String>,
    db: Option<String>,
    index: Option<String>,
    secret: Option<String>,
    admin_token: Option<String>,
    timezone: Option<String>,
    rules: Option<Rules>,
    ranking: Option<RankingWeights>,
    rate_limit: Option<f64>,
}

/// Values given on the command line or in the environment (clap reads both).
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub bind: Option<String>,
    pub db: Option<PathBuf>,
    pub index: Option<PathBuf>,
    pub secret: Option<String>,
    pub admin_token: Option<String>,
    pub timezone: Option<String>,
}

/// The validated settings every part of the service reads.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub db: PathBuf,
    pub index: PathBuf,
    pub secret: String,
    pub admin_token: String,
    pub timezone: chrono_tz::Tz,
    pub rules: Rules,
    pub ranking: RankingWeights,
    /// The gazetteer and category list live here.
    pub data_dir: PathBuf,
    /// Requests a second per user token, and per client address for anonymous calls
    /// (`GROUPSCOUT_RATE_LIMIT`); 0 is off. Never for the admin token.
    pub rate_limit: f64,
    /// A request still unanswered after this gets 503 `timeout`
    /// (`GROUPSCOUT_REQUEST_TIMEOUT`, seconds; default 30, past the store's 10 s wait for a
    /// lock, so a busy store answers 503 `unavailable` first).
    pub request_timeout: std::time::Duration,
    /// How long a client may take to send a request, head and body, from its first byte
    /// (`GROUPSCOUT_CLIENT_TIMEOUT`, seconds; default 10); also how long a new connection
    /// may stay silent. A client that trickles its request is cut off after it.
    pub client_timeout: std::time::Duration,
}

impl Settings {
    /// Resolves the settings, generating the secret and admin token beside the database on
    /// first use when neither a flag, the environment nor the file gives them.
    pub fn load(o: &Overrides) -> anyhow::Result<Settings> {
        let path = o.config.clone().unwrap_or_else(|| PathBuf::from("groupscout.toml"));
        let file: FileConfig = match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).with_context(|| format!("failed to parse {}", path.display()))?,
            Err(_) if o.config.is_none() => FileConfig::default(),
            Err(e) => bail!("failed to read {}: {e}", path.display()),
        };
        let db = o.db.clone().or(file.db.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("data/groupscout.db"));
        let index = o.index.clone().or(file.index.map(PathBuf::from)).unwrap_or_else(|| PathBuf::from("index"));
        let tz_name = o.timezone.clone().or(file.timezone).unwrap_or_else(|| "Asia/Shanghai".to_string());
        let timezone: chrono_tz::Tz = tz_name.parse().map_err(|_| anyhow::anyhow!("unknown timezone {tz_name:?}"))?;
        let db_text = db.to_string_lossy().into_owned();
        // Beside the database: a file next to a SQLite file, or a row of a PostgreSQL
        // database's `meta` table, which every node of a cluster then shares.
        let kept = |name: &str| -> anyhow::Result<String> {
            if crate::store::is_postgres_url(&db_text) {
                return crate::store::kept_in_database(&db_text, name, random_secret);
            }
            let db_dir = db.parent().map(Path::to_path_buf).unwrap_or_default();
            let db_dir = if db_dir.as_os_str().is_empty() { PathBuf::from(".") } else { db_dir };
            kept_secret(&db_dir.join(name))
        };
        let secret = match o.secret.clone().or(file.secret) {
            Some(s) => s,
            None => kept("secret")?,
        };
        let admin_token = match o.admin_token.clone().or(file.admin_token) {
            Some(s) => s,
            None => kept("admin_token")?,
        };
        if secret.len() < 16 {
            bail!("the secret must be at least 16 characters");
        }
        if admin_token.len() < 16 {
            bail!("the admin token must be at least 16 characters");
        }
        Ok(Settings {
            bind: o.bind.clone().or(file.bind).unwrap_or_else(|| "127.0.0.1:8080".to_string()),
            db,
            index,
            secret,
            admin_token,
            timezone,
            rules: file.rules.unwrap_or_default(),
            ranking: file.ranking.unwrap_or_default(),
            data_dir: data_dir(),
            rate_limit: match std::env::var("GROUPSCOUT_RATE_LIMIT") {
                Ok(v) if !v.trim().is_empty() => {
                    v.trim().parse().map_err(|_| anyhow::anyhow!("GROUPSCOUT_RATE_LIMIT must be a number"))?
                }
                _ => file.rate_limit.unwrap_or(0.0),
            },
            request_timeout: match std::env::var("GROUPSCOUT_REQUEST_TIMEOUT") {
                Ok(v) if !v.trim().is_empty() => v
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(std::time::Duration::from_secs_f64)
                    .ok_or_else(|| {
                        anyhow::anyhow!("GROUPSCOUT_REQUEST_TIMEOUT must be a positive number of seconds")
                    })?,
                _ => std::time::Duration::from_secs(30),
            },
            client_timeout: seconds_from_env("GROUPSCOUT_CLIENT_TIMEOUT", 10.0)?,
        })
    }
}

/// A positive number of seconds from the environment variable `name`, or `default`.
fn seconds_from_env(name: &str, default: f64) -> anyhow::Result<std::time::Duration> {
    let secs = match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
            .ok_or_else(|| anyhow::anyhow!("{name} must be a positive number of seconds"))?,
        _ => default,
    };
    Ok(std::time::Duration::from_secs_f64(secs))
}

impl Settings {
    /// `GROUPSCOUT_DB` as the store takes it: a PostgreSQL URL or a SQLite path.
    pub fn db_url(&self) -> String {
        self.db.to_string_lossy().into_owned()
    }
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The folder holding `adcodes.csv` and `categories`: `GROUPSCOUT_DATA` if set, else `data/`
/// in the working directory, else the `data/` folder of the source tree this was built from.
pub fn data_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("GROUPSCOUT_DATA") {
        return PathBuf::from(dir);
    }
    let local = PathBuf::from("data");
    if local.join("categories").exists() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
}

/// Reads a secret kept in a file, creating it (mode 0600) with 32 random bytes if missing.
fn kept_secret(path: &Path) -> anyhow::Result<String> {
    if let Ok(s) = fs::read_to_string(path) {
        let s = s.trim().to_string();
        if !s.is_empty() {
            return Ok(s);
        }
    }
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    }
    let value = random_secret();
    // A file of this process's own, complete and synced before anyone can see it.
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        let mut opts = fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(&tmp).with_context(|| format!("failed to create {}", tmp.display()))?;
        f.write_all(value.as_bytes())?;
        f.sync_all()?;
    }
    // Two processes starting at once must agree on one secret. A hard link to the final
    // name is made only if that name does not exist yet (a rename would replace it), so
    // exactly one process wins; the others read the winner's file.
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(value),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(fs::read_to_string(path)?.trim().to_string()),
        Err(e) => Err(e).with_context(|| format!("failed to create {}", path.display())),
    }
}
