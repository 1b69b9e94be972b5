//! The groupscout command line: serve, import, reindex, rollup, check, gen, token.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use groupscout::config::{Overrides, Settings};
use groupscout::jobs;
use groupscout::service::{load_context, App};
use groupscout::store::Store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "groupscout", version, about = "Group discovery and recommendation service")]
struct Cli {
    /// Configuration file (default: groupscout.toml if present).
    #[arg(long, global = true, env = "GROUPSCOUT_CONFIG")]
    config: Option<PathBuf>,
    /// SQLite database file.
    #[arg(long, global = true, env = "GROUPSCOUT_DB")]
    db: Option<PathBuf>,
    /// Index directory.
    #[arg(long, global = true, env = "GROUPSCOUT_INDEX")]
    index: Option<PathBuf>,
    /// Service timezone (IANA name).
    #[arg(long, global = true, env = "GROUPSCOUT_TIMEZONE")]
    timezone: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GROUPSCOUT_BIND")]
        bind: Option<String>,
        /// HTTP worker threads (default: the number of cores).
        #[arg(long)]
        workers: Option<usize>,
        /// When the database has no groups yet, generate and import a sample world of this
        /// many groups first (seed 42).
        #[arg(long)]
        sample: Option<usize>,
    },
    /// Load users, follows, groups, members and activity from import lines (`-` for stdin).
    Import { file: PathBuf },
    /// Rebuild the index into a new generation and switch to it.
    Reindex,
    /// Screen every group's texts with the word lists as they are now (SPEC §5); safe
    /// while `serve` runs.
    Rescreen,
    /// The screen's model (SPEC §5): train it from the labelled corpus.
    Moderation {
        #[command(subcommand)]
        action: ModerationAction,
    },
    /// Recompute the daily statistics (default: yesterday in the service timezone).
    Rollup {
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Audit the derived state (statistics, owner memberships, the index) against the
    /// truth; exits non-zero on any discrepancy.
    Check {
        /// Mend what is found: statistics recomputed, owner memberships and roles fixed,
        /// groups queued for the indexer (applied at once when no server runs).
        #[arg(long)]
        repair: bool,
        /// How many discrepancies to print in full.
        #[arg(long, default_value_t = 20)]
        show: usize,
        /// A serving node (`host:port`) whose served totals to audit: the totals and facets
        /// it answers for the 200 most frequent words and each category, against fresh
        /// counts (`--repair` drops the counts it keeps when one differs). Repeat for each
        /// node of a cluster; default: the configured bind address, if a server answers there.
        #[arg(long = "server")]
        servers: Vec<String>,
    },
    /// Generate a realistic sample world as import lines.
    Gen {
        #[arg(long)]
        groups: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The day the world is generated for (default: today in the service timezone).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
    },
    /// Measure every kind of read at scale (builds or reuses a generated world).
    Bench {
        /// Groups in the world.
        #[arg(long, default_value_t = 1_000_000)]
        groups: usize,
        /// Where the world, its database and its index live.
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Queries per kind.
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        /// The figures as JSON.
        #[arg(long, default_value = "bench-data/bench.json")]
        out: PathBuf,
        /// Also write varied URLs for an HTTP load run (one per line).
        #[arg(long)]
        urls: Option<PathBuf>,
        /// Seconds of streamed writes for the freshness measurement (0 skips it).
        #[arg(long, default_value_t = 20)]
        freshness_seconds: u64,
        /// Writes per second during the freshness measurement.
        #[arg(long, default_value_t = 500.0)]
        writes_per_second: f64,
        /// Measure on the current index instead of rebuilding it first.
        #[arg(long)]
        reuse_index: bool,
        /// Measure only the kinds whose name starts with one of these (comma-separated,
        /// e.g. `text,nearby,freshness`).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// The two engines side by side: import of the same world into SQLite and PostgreSQL,
    /// then two PostgreSQL nodes and one SQLite node under mixed HTTP reads with writes
    /// streaming in (cross-node freshness, latency, errors).
    BenchEngines {
        /// Groups in the world.
        #[arg(long, default_value_t = 1_000_000)]
        groups: usize,
        /// Where the world and the SQLite database live.
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// A PostgreSQL server (a URL whose role may create databases); a fresh database is
        /// made on it.
        #[arg(long, env = "GROUPSCOUT_BENCH_PG")]
        postgres: String,
        /// Seconds of HTTP load per node (0: the import figures only).
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Writes per second streamed in during each node's load.
        #[arg(long, default_value_t = 200.0)]
        writes_per_second: f64,
        /// Concurrent reading connections.
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Reuse the PostgreSQL database (URL) and SQLite file of an earlier run: no import.
        #[arg(long)]
        reuse: Option<String>,
        /// The figures as JSON.
        #[arg(long, default_value = "bench-data/engines.json")]
        out: PathBuf,
    },
    /// The service under steady load for a while: keep-alive connections of mixed reads
    /// and writes streaming in, against a `serve` process on a freshly imported world;
    /// errors, RSS and latency of the first window against the last. Exits 1 on any error.
    Soak {
        /// Groups in the world.
        #[arg(long, default_value_t = 100_000)]
        groups: usize,
        /// Where the world, the database and the index live.
        #[arg(long, default_value = "bench-data")]
        dir: PathBuf,
        /// Minutes of load.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Seconds of load instead of minutes (a short run).
        #[arg(long)]
        seconds: Option<u64>,
        /// Seconds in a window: the first window is compared with the last.
        #[arg(long, default_value_t = 60)]
        window: u64,
        /// Concurrent reading connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Writes per second streamed in.
        #[arg(long, default_value_t = 200.0)]
        writes_per_second: f64,
        /// The figures as JSON.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Offline evaluation of recommendations: hit rate@10 of held-out joins against a
    /// "most members within 10 km" baseline, on a generated world in a temporary directory.
    EvalRecs {
        #[arg(long, default_value_t = 20_000)]
        groups: usize,
        #[arg(long, default_value_t = 3_000)]
        users: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Propose related terms from a world's group names and descriptions (import format),
    /// as lines of data/related_terms.txt for a person to review.
    MineTerms {
        /// The world, e.g. from `groupscout gen --out world.jsonl` (`-` for stdin).
        file: PathBuf,
        /// Groups of a category that must hold both words.
        #[arg(long, default_value_t = 20)]
        min_together: u64,
        /// The least share of each word's groups that must be in the category.
        #[arg(long, default_value_t = 0.6)]
        min_share: f64,
        /// Proposals per category.
        #[arg(long, default_value_t = 12)]
        per_category: usize,
        /// Read descriptions too, not only names.
        #[arg(long)]
        descriptions: bool,
    },
    /// Print a token: a user token (HS256 JWT) or the admin token.
    Token {
        #[arg(long, conflicts_with = "admin", required_unless_present = "admin")]
        user: Option<i64>,
        #[arg(long)]
        admin: bool,
        /// Lifetime of a user token in seconds.
        #[arg(long, default_value_t = 30 * 24 * 3600)]
        ttl: i64,
    },
}

#[derive(Subcommand)]
enum ModerationAction {
    /// Learn the model's weights from the labelled corpus (`data/moderation/corpus.tsv`) and
    /// write them (`data/moderation/model.tsv`); prints the cross-validated
    /// precision/recall curve the thresholds are chosen from.
    Train {
        /// The corpus (label, reason, text a line).
        #[arg(long)]
        corpus: Option<PathBuf>,
        /// Where the weights go.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Ordinary texts from this many generated groups are learnt as clear.
        #[arg(long, default_value_t = 3000)]
        ordinary: usize,
    },
    /// Write every admin's decision (confirmed: diverting, released: clear) with the group's
    /// texts as corpus lines, for `train` (default `data/moderation/decisions.tsv`).
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn settings(cli: &Cli, bind: Option<String>) -> anyhow::Result<Settings> {
    Settings::load(&Overrides {
        config: cli.config.clone(),
        bind,
        db: cli.db.clone(),
        index: cli.index.clone(),
        secret: std::env::var("GROUPSCOUT_SECRET").ok().filter(|s| !s.is_empty()),
        admin_token: std::env::var("GROUPSCOUT_ADMIN_TOKEN").ok().filter(|s| !s.is_empty()),
        timezone: cli.timezone.clone(),
    })
}

fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    groupscout::service::open_store(settings)
}

/// Fills an empty database with a generated world, through the importer.
fn load_sample(settings: &Settings, groups: usize) -> anyhow::Result<()> {
    let store = open_store(settings)?;
    let Some(world) = jobs::sample_world(&store, groups)? else {
        return Ok(());
    };
    let bar = jobs::progress_bar(Some(world.len() as u64), "sample");
    let summary = jobs::import::import(&store, &mut world.as_slice(), |bytes, _| bar.set_position(bytes))?;
    bar.finish_and_clear();
    eprintln!("sample: imported {} lines ({} groups) in {:.1} s", summary.imported, groups, summary.seconds);
    Ok(())
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match &cli.command {
        Command::Serve { bind, workers, sample } => {
            let settings = settings(&cli, bind.clone())?;
            if let Some(groups) = sample {
                load_sample(&settings, *groups)?;
            }
            let listener =
                TcpListener::bind(&settings.bind).with_context(|| format!("failed to bind {}", settings.bind))?;
            let workers = workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(async move {
                let app = tokio::task::spawn_blocking(move || App::open(settings)).await??;
                tracing::info!(address = %listener.local_addr()?, groups = app.engine.catalog.read().len(), "serving");
                groupscout::startup::spawn_rollup_schedule(app.clone());
                let server = groupscout::startup::build_server(app.clone(), listener, workers)?;
                // SIGTERM or SIGINT: the server stops accepting, finishes the requests in
                // flight, and returns; then the indexer commits what it applied.
                server.await?;
                tracing::info!("requests finished; committing the index");
                app.engine.shutdown();
                tracing::info!(committed_seq = app.engine.committed_seq(), "stopped");
                anyhow::Ok(())
            })?;
        }
        Command::Import { file } => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            let (mut reader, len): (Box<dyn BufRead>, Option<u64>) = if file.as_os_str() == "-" {
                (Box::new(BufReader::with_capacity(1 << 20, std::io::stdin())), None)
            } else {
                let f = std::fs::File::open(file).with_context(|| format!("failed to open {}", file.display()))?;
                let len = f.metadata().ok().map(|m| m.len());
                (Box::new(BufReader::with_capacity(1 << 20, f)), len)
            };
            let bar = jobs::progress_bar(len, "import");
            let summary = jobs::progress::tracked(&store, "import", len, |p| {
                jobs::import::import(&store, &mut reader, |bytes, lines| {
                    let at = if len.is_some() { bytes } else { lines };
                    bar.set_position(at);
                    p.set(at);
                    bar.set_message(format!("{lines} lines"));
                })
            })?;
            bar.finish_and_clear();
            println!(
                "import: {} lines, {} imported, {} skipped, {:.2} s, {:.0} lines/s",
                summary.lines,
                summary.imported,
                summary.skipped,
                summary.seconds,
                summary.lines_per_second()
            );
        }
        Command::Reindex => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            if store.kind() == groupscout::store::Kind::Postgres {
                let r = jobs::progress::tracked(&store, "reindex", None, |_| {
                    jobs::reindex_cluster(&store, &settings.index)
                })?;
                match r.local {
                    Some(s) => println!(
                        "reindex: epoch {}: no node serving; {} documents into {} (seq {}), {:.2} s",
                        r.epoch, s.documents, s.generation, s.seq, s.seconds
                    ),
                    None => println!(
                        "reindex: epoch {}: {} nodes rebuilt their index, {:.2} s",
                        r.epoch, r.nodes, r.seconds
                    ),
                }
            } else {
                let s = jobs::progress::tracked(&store, "reindex", None, |_| jobs::reindex(&store, &settings.index))?;
                println!(
                    "reindex: {} documents into {} (seq {}), {:.2} s",
                    s.documents, s.generation, s.seq, s.seconds
                );
            }
        }
        Command::Moderation { action: ModerationAction::Export { out } } => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            let out = out.clone().unwrap_or_else(|| settings.data_dir.join("moderation").join("decisions.tsv"));
            let lines = jobs::screen_model::export(&store)?;
            let mut text =
                String::from("# Admins' decisions, written by `groupscout moderation export`: label, reason, text.\n");
            for l in &lines {
                text.push_str(l);
                text.push('\n');
            }
            let tmp = out.with_extension("tmp");
            std::fs::write(&tmp, text).with_context(|| format!("failed to write {}", tmp.display()))?;
            std::fs::rename(&tmp, &out)?;
            let flagged = lines.iter().filter(|l| l.starts_with("flag")).count();
            println!(
                "moderation export: {} decisions ({flagged} confirmed, {} released) to {}",
                lines.len(),
                lines.len() - flagged,
                out.display()
            );
        }
        Command::Moderation { action: ModerationAction::Train { corpus, out, ordinary } } => {
            let settings = settings(&cli, None)?;
            let ctx = load_context(&settings)?;
            let dir = settings.data_dir.join("moderation");
            let corpus = corpus.clone().unwrap_or_else(|| dir.join("corpus.tsv"));
            let out = out.clone().unwrap_or_else(|| dir.join("model.tsv"));
            let r = jobs::screen_model::train(&dir, &ctx.gazetteer, &corpus, *ordinary, &out)?;
            println!(
                "moderation train: {} texts ({} diverting; {} admins' decisions, each counted 5 times) and {} \
                 ordinary texts, weights in {}, {} phrases learnt for the lists (learned.tsv), {:.1} s",
                r.texts,
                r.diverting,
                r.decisions,
                r.ordinary,
                out.display(),
                r.learned,
                r.seconds
            );
            println!(
                "five-fold cross-validation, a text flagged when the lists find it or the model reaches the threshold:"
            );
            println!("  threshold  precision  recall  flagged  ordinary flagged");
            let row = |t: String, p: &jobs::screen_model::Point| {
                println!(
                    "  {t:>9}  {:>9.3}  {:>6.3}  {:>7}  {:>16.4}",
                    p.precision, p.recall, p.flagged, p.ordinary_flagged
                )
            };
            row("lists".into(), &r.lists_only);
            for p in &r.curve {
                row(format!("{:.2}", p.threshold), p);
            }
            println!("run `groupscout rescreen` to apply the new weights to every group");
        }
        Command::Rescreen => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            let total: i64 = store.read(|db| groupscout::store::groups::count_live(db, false))?;
            let bar = jobs::progress_bar(Some(total as u64), "rescreen");
            let started = std::time::Instant::now();
            let s = jobs::progress::tracked(&store, "rescreen", Some(total as u64), |p| {
                groupscout::service::moderation::rescreen(&store, |n| {
                    bar.set_position(n);
                    p.set(n);
                })
            })?;
            bar.finish_and_clear();
            println!(
                "rescreen: {} groups, {} flagged, {} changed status, {:.2} s",
                s.groups,
                s.flagged,
                s.moved,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Rollup { date } => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            let (day, s, secs) = jobs::progress::tracked(&store, "rollup", None, |_| jobs::rollup(&store, *date))?;
            println!(
                "rollup: {day}: {} groups, {} live figures changed, {} history rows, {secs:.2} s",
                s.groups, s.changed, s.history_rows
            );
        }
        Command::Check { repair, show, servers } => {
            let settings = settings(&cli, None)?;
            let store = open_store(&settings)?;
            let total: i64 = store.read(|db| groupscout::store::groups::count_live(db, false))?;
            let bar = jobs::progress_bar(Some(total as u64), "check");
            let report = jobs::progress::tracked(&store, "check", Some(total as u64), |p| {
                jobs::check::check(&store, &settings.index, *repair, *show, |n| {
                    bar.set_position(n);
                    p.set(n);
                })
            })?;
            bar.finish_and_clear();
            println!("{}", report.summary());
            for d in &report.first {
                println!("  {d}");
            }
            if report.discrepancies() > report.first.len() as u64 {
                println!("  … and {} more", report.discrepancies() - report.first.len() as u64);
            }
            for (id, members, capacity) in &report.over_capacity {
                println!("  note: group {id} has {members} members over its capacity {capacity}");
            }
            if report.other_stats_day > 0 {
                println!(
                    "  note: {} groups' activity figures are for another day than yesterday (a roll-up is due)",
                    report.other_stats_day
                );
            }
            if let Some((generation, seq)) = report.index.as_ref().filter(|(_, seq)| *seq > report.store_seq) {
                println!(
                    "  note: the index {generation} covers seq {seq}, past the store's last change {}: it was built from \
                     another database; run reindex",
                    report.store_seq
                );
            }
            // What readers see: the totals each serving node answers.
            let explicit = !servers.is_empty();
            let nodes = if explicit { servers.clone() } else { vec![settings.bind.clone()] };
            let mut served_wrong = 0;
            for node in &nodes {
                let asked = match jobs::check::served_totals(node, &settings.admin_token, *repair) {
                    Ok(answer) => answer,
                    Err(e) if !explicit => {
                        println!("served totals: the server at {node} did not take the audit ({e:#}); name the nodes with --server");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                match asked {
                    jobs::check::Served::NoServer if explicit => {
                        println!("served totals: nothing answers at {node}");
                        served_wrong += 1;
                    }
                    jobs::check::Served::NoServer => {
                        println!("served totals: no server at {node} (name the nodes with --server)")
                    }
                    jobs::check::Served::Report { compared: false, .. } => {
                        println!("served totals at {node}: writes kept arriving; not compared (run again)")
                    }
                    jobs::check::Served::Report { words, categories, seq, differences, after, .. } => {
                        println!(
                            "served totals at {node}: {words} words and {categories} categories at seq {seq}, {} differences",
                            differences.len()
                        );
                        for d in differences.iter().take(*show) {
                            println!("  {d}");
                        }
                        if let Some(after) = &after {
                            println!("  repair: dropped the node's kept counts; {} differences after", after.len());
                            for d in after.iter().take(*show) {
                                println!("  {d}");
                            }
                        }
                        served_wrong += after.as_ref().unwrap_or(&differences).len();
                    }
                }
            }
            if served_wrong > 0 {
                return Ok(ExitCode::FAILURE);
            }
            if let Some(r) = &report.repair {
                let index = match r.index {
                    jobs::check::CatchUp::Applied { changes, seq } => {
                        format!("applied {changes} changes to the index directly (now at seq {seq})")
                    }
                    jobs::check::CatchUp::ServerRunning => "a running server's indexer applies them".to_string(),
                    jobs::check::CatchUp::NoIndex => "no index yet; the next serve builds it".to_string(),
                };
                println!("repair: {} groups mended, each with a change row; {index}", r.groups);
                return Ok(ExitCode::SUCCESS);
            }
            if report.discrepancies() > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::Gen { groups, seed, out, today } => {
            let settings = settings(&cli, None)?;
            let ctx = load_context(&settings)?;
            let started = std::time::Instant::now();
            let opts =
                jobs::gen::GenOptions { groups: *groups, seed: *seed, today: today.unwrap_or_else(|| ctx.today()) };
            let summary = match out {
                Some(path) => {
                    let mut f =
                        std::fs::File::create(path).with_context(|| format!("failed to create {}", path.display()))?;
                    let s = jobs::generate(&ctx.gazetteer, &opts, &mut f)?;
                    f.flush()?;
                    s
                }
                None => {
                    let stdout = std::io::stdout();
                    let mut lock = stdout.lock();
                    jobs::generate(&ctx.gazetteer, &opts, &mut lock)?
                }
            };
            eprintln!(
                "gen: {} users, {} follows, {} groups, {} members, {} activity lines, {:.2} s",
                summary.users,
                summary.follows,
                summary.groups,
                summary.members,
                summary.activity,
                started.elapsed().as_secs_f64()
            );
        }
        Command::Bench { groups, dir, queries, out, urls, freshness_seconds, writes_per_second, reuse_index, only } => {
            // The bench keeps its own database and index beside the world it generates.
            let mut settings = settings(&cli, None)?;
            settings.db = dir.join(format!("bench-{groups}.db"));
            settings.index = dir.join(format!("index-{groups}"));
            let opts = jobs::bench::BenchOptions {
                groups: *groups,
                dir: dir.clone(),
                queries: *queries,
                out: out.clone(),
                urls: urls.clone(),
                freshness_seconds: *freshness_seconds,
                writes_per_second: *writes_per_second,
                reuse_index: *reuse_index,
                only: only.clone(),
            };
            let report = jobs::bench::run(settings, &opts)?;
            print!("{}", jobs::bench::table(&report));
            println!("figures written to {}", out.display());
        }
        Command::BenchEngines { groups, dir, postgres, seconds, writes_per_second, connections, reuse, out } => {
            let settings = settings(&cli, None)?;
            let opts = jobs::engines::EngineBenchOptions {
                groups: *groups,
                dir: dir.clone(),
                postgres: postgres.clone(),
                seconds: *seconds,
                writes_per_second: *writes_per_second,
                connections: *connections,
                reuse: reuse.clone(),
            };
            let report = jobs::engines::run(settings, &opts)?;
            print!("{}", jobs::engines::summary(&report));
            std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
            println!("figures written to {}", out.display());
        }
        Command::Soak { groups, dir, minutes, seconds, window, connections, writes_per_second, out } => {
            let settings = settings(&cli, None)?;
            let seconds = seconds.unwrap_or(minutes * 60);
            let opts = jobs::soak::SoakOptions {
                groups: *groups,
                dir: dir.clone(),
                seconds,
                window_seconds: (*window).min(seconds),
                connections: *connections,
                writes_per_second: *writes_per_second,
            };
            let report = jobs::soak::run(settings, &opts)?;
            print!("{}", report.summary());
            if let Some(out) = out {
                std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
                println!("figures written to {}", out.display());
            }
            if report.errors() > 0 {
                return Ok(ExitCode::FAILURE);
            }
        }
        Command::EvalRecs { groups, users, seed } => {
            let mut settings = settings(&cli, None)?;
            let dir = std::env::temp_dir().join(format!("groupscout-eval-{}", std::process::id()));
            settings.db = dir.join("eval.db");
            settings.index = dir.join("index");
            let report = jobs::eval::run(settings, *groups, *users, *seed);
            let _ = std::fs::remove_dir_all(&dir);
            let r = report?;
            println!(
                "eval-recs: {} users, hit rate@10 {:.3}, baseline (most members within 10 km) {:.3}, ratio {:.2}, {:.1} s",
                r.users,
                r.hit_rate,
                r.baseline_hit_rate,
                r.hit_rate / r.baseline_hit_rate.max(1e-9),
                r.seconds
            );
        }
        Command::MineTerms { file, min_together, min_share, per_category, descriptions } => {
            let data = groupscout::config::data_dir();
            let gazetteer = groupscout::geo::Gazetteer::load(&data.join("adcodes.csv"))?;
            let known = groupscout::index::terms::RelatedTerms::load(&data.join(groupscout::index::terms::FILE))?;
            let mut input: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
                Box::new(std::io::BufReader::new(std::io::stdin()))
            } else {
                Box::new(std::io::BufReader::new(std::fs::File::open(file)?))
            };
            let is_place = |w: &str| !gazetteer.resolve(w).is_empty();
            let options = groupscout::index::terms::MineOptions {
                min_together: *min_together,
                min_share: *min_share,
                per_category: *per_category,
                descriptions: *descriptions,
            };
            let (groups, found) = groupscout::index::terms::mine(&mut input, &is_place, &known, options)?;
            print!("{}", groupscout::index::terms::proposals_text(groups, &found));
        }
        Command::Token { user, admin, ttl } => {
            let settings = settings(&cli, None)?;
            if *admin {
                println!("{}", settings.admin_token);
            } else if let Some(id) = user {
                if *id <= 0 {
                    anyhow::bail!("--user must be a positive user id");
                }
                println!(
                    "{}",
                    groupscout::auth::issue_user_token(&settings.secret, *id, chrono::Utc::now().timestamp(), *ttl)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    groupscout::telemetry::init(cli.log_format == "json");
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
