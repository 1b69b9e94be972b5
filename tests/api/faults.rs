//! Faults the service must ride out without losing a write (the full counted runs are
//! `bench/faults.py`): here, the index's disk filling up while writes come in.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::helpers::{enc, spawn_app_with_settings, TestApp};

/// A small tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    /// `None` when mounting is not allowed here (it needs root).
    fn mount(at: &Path, megabytes: u32) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(at)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk(at.to_path_buf()))
    }

    /// Writes a file until the disk is full; returns its path.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 1 << 20];
        while f.write_all(&block).and_then(|_| f.flush()).is_ok() {}
        // Whatever a partial block left over.
        while f.write_all(&block[..4096]).is_ok() {}
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn found(app: &TestApp, name: &str) -> bool {
    let (s, b) = app.get(&format!("/v1/search?q={}", enc(name)), None);
    assert_eq!(s, 200, "reads keep working: {b}");
    b["groups"].as_array().is_some_and(|g| g.iter().any(|g| g["name"] == name))
}

#[test]
fn groups_written_while_the_index_disk_is_full_reach_search_once_space_returns() {
    let disk_dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&disk_dir.path().join("index"), 16) else {
        eprintln!("SKIPPED: mounting a small tmpfs for the index needs root");
        return;
    };
    let index = disk.0.clone();
    let app = spawn_app_with_settings(move |s| s.index = index);
    app.owner(1, 2);
    app.owner(3, 4);
    let body = |name: &str| json!({"name": name, "category": "outdoor", "join_approval": false});
    app.group(1, body("满盘之前 徒步群"));
    app.settle();
    assert!(found(&app, "满盘之前 徒步群"));

    let filler = disk.fill();
    // Writes are never refused for the index; reads answer from its last commit.
    let names = ["满盘甲 徒步群", "满盘乙 读书群", "满盘丙 摄影群", "满盘丁 美食群"];
    for (i, name) in names.iter().enumerate() {
        app.group(if i < 2 { 1 } else { 3 }, body(name));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(found(&app, "满盘之前 徒步群"));

    std::fs::remove_file(filler).unwrap();
    let started = Instant::now();
    for name in names {
        while !found(&app, name) {
            assert!(started.elapsed() < Duration::from_secs(30), "{name} never reached search");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
