//! `--fsync-probe`: what one `fdatasync` costs on the filesystem of
//! `--durable-dir`, one after another with nothing else queued — the price a
//! group-commit batch pays at least once.

use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Instant;

use crate::{filesystem_of, pct, TempDir};

const ROUNDS: usize = 1000;

pub fn run(dir: &Path) {
    let tmp = TempDir::new(dir);
    println!(
        "fsync probe: {ROUNDS} rounds each in {} ({})",
        tmp.path().display(),
        filesystem_of(tmp.path())
    );
    println!(
        "\n{:<44} {:>9} {:>9} {:>9} {:>11}",
        "one write, then fdatasync", "p50 ms", "p99 ms", "max ms", "syncs/s"
    );
    for (name, size, in_place) in [
        ("append 4 KB (the file grows)", 4096, false),
        ("append 100 B (a relay's message line)", 100, false),
        ("overwrite 4 KB in place (preallocated)", 4096, true),
    ] {
        let path = tmp.path().join(format!("probe-{size}-{in_place}"));
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(!in_place)
            .write(true)
            .open(&path)
            .unwrap();
        let block = vec![b'x'; size];
        if in_place {
            // Written and synced beforehand, so that no write below changes
            // the file's size or allocates a block: data only.
            for _ in 0..ROUNDS {
                file.write_all(&block).unwrap();
            }
            file.sync_all().unwrap();
        }
        let mut syncs = Vec::with_capacity(ROUNDS);
        let start = Instant::now();
        for i in 0..ROUNDS {
            if in_place {
                file.write_all_at(&block, (i * size) as u64).unwrap();
            } else {
                file.write_all(&block).unwrap();
            }
            let t = Instant::now();
            file.sync_data().unwrap();
            syncs.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "{name:<44} {:>9.3} {:>9.3} {:>9.3} {:>11.0}",
            pct(&syncs, 50.0),
            pct(&syncs, 99.0),
            pct(&syncs, 100.0),
            ROUNDS as f64 / elapsed,
        );
    }
}
