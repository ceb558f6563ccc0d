//! The fuzz targets on stable, for CI: each over its seed corpus
//! (fuzz/corpus/<target>/, where found crashes are added as regressions)
//! and a few thousand deterministic mutations and random inputs. Long runs:
//! fuzz/run-long.sh (nightly, libFuzzer).

#[allow(dead_code, clippy::all)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz;

use std::path::Path;

/// Inputs per target beyond the seeds.
const MUTATIONS: usize = 3000;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes a parser finds interesting: separators, digits, brackets, CRLF.
const DICT: &[u8] = b" \t\n\r:()[]%/-.,;=0123456789abcdefxX\0\xff";

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        match rng.below(7) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(v.len() + 1);
                v.insert(i, DICT[rng.below(DICT.len())]);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v.remove(i);
            }
            3 => v.truncate(rng.below(v.len() + 1)),
            4 if !v.is_empty() => {
                // Repeat a slice: long numbers, many fields, nested brackets.
                let a = rng.below(v.len());
                let b = (a + 1 + rng.below(32)).min(v.len());
                let piece = v[a..b].repeat(1 + rng.below(64));
                v.splice(a..a, piece);
            }
            5 if !other.is_empty() => {
                // Splice in part of another seed.
                let a = rng.below(other.len());
                let b = (a + rng.below(64)).min(other.len());
                let at = rng.below(v.len() + 1);
                v.splice(at..at, other[a..b].iter().copied());
            }
            _ => {
                let i = rng.below(v.len() + 1);
                v.insert(i, rng.next() as u8);
            }
        }
    }
    v
}

fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn every_target_has_seeds_and_survives_mutations() {
    for &(name, run) in fuzz::TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} has no seeds");
        for s in &seeds {
            run(s);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ name.len() as u64);
        for i in 0..MUTATIONS {
            let input = if i % 10 == 9 {
                (0..rng.below(512)).map(|_| rng.next() as u8).collect()
            } else {
                let a = &seeds[rng.below(seeds.len())];
                let b = &seeds[rng.below(seeds.len())];
                mutate(&mut rng, a, b)
            };
            let caught = std::panic::catch_unwind(|| run(&input));
            assert!(caught.is_ok(), "fuzz target {name} panicked on {:?}", String::from_utf8_lossy(&input));
        }
    }
}

/// Every fuzz_targets file is in TARGETS (and so runs here), and back.
#[test]
fn targets_match_fuzz_targets_dir() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    files.sort();
    let mut names: Vec<String> = fuzz::TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    names.sort();
    assert_eq!(files, names);
}
