//! NSS key log files (`SSLKEYLOGFILE`, RFC 9850): the secrets that let tracetail decrypt TLS.
//!
//! One line per secret: `LABEL <client_random hex> <secret hex>`; `#` starts a comment.
//! Read: `CLIENT_RANDOM` (TLS ≤ 1.2 master secret, 48 bytes) and TLS 1.3's
//! `CLIENT_HANDSHAKE_TRAFFIC_SECRET`, `SERVER_HANDSHAKE_TRAFFIC_SECRET`,
//! `CLIENT_TRAFFIC_SECRET_0`, `SERVER_TRAFFIC_SECRET_0`; other labels (exporter and early
//! secrets) are accepted and ignored. Secrets are never printed: errors quote the line number
//! and the label, not the line.

use super::crypto::Secret;
use std::collections::HashMap;
use std::fmt;

/// The secrets of one connection, found by its ClientHello.random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionSecrets {
    pub master: Option<Secret>,
    pub client_handshake: Option<Secret>,
    pub server_handshake: Option<Secret>,
    pub client_traffic_0: Option<Secret>,
    pub server_traffic_0: Option<Secret>,
}

/// Every secret read so far, by client random.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct KeyLog {
    by_client_random: HashMap<[u8; 32], ConnectionSecrets>,
}

impl fmt::Debug for KeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyLog({} connections)", self.by_client_random.len())
    }
}

/// A key log line tracetail cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name} line {line}: {message}")]
pub struct KeyLogError {
    pub source_name: String,
    pub line: usize,
    pub message: String,
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

impl KeyLog {
    pub fn is_empty(&self) -> bool {
        self.by_client_random.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_client_random.len()
    }

    pub fn get(&self, client_random: &[u8]) -> Option<&ConnectionSecrets> {
        let key: [u8; 32] = client_random.try_into().ok()?;
        self.by_client_random.get(&key)
    }

    /// Adds the secrets of a key log text; `source_name` names it in errors. Stops at the
    /// first bad line (nothing after it is added).
    pub fn add_text(&mut self, source_name: &str, text: &str) -> Result<(), KeyLogError> {
        for (i, line) in text.lines().enumerate() {
            let error = |message: String| KeyLogError {
                source_name: source_name.to_string(),
                line: i + 1,
                message,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_ascii_whitespace();
            let (Some(label), Some(random), Some(secret), None) =
                (words.next(), words.next(), words.next(), words.next())
            else {
                return Err(error(
                    "expected three fields: LABEL CLIENT_RANDOM SECRET (hex)".into(),
                ));
            };
            let label_ok = label
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if !label_ok {
                return Err(error("the label is not an NSS key log label".into()));
            }
            let used = matches!(
                label,
                "CLIENT_RANDOM"
                    | "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
                    | "SERVER_HANDSHAKE_TRAFFIC_SECRET"
                    | "CLIENT_TRAFFIC_SECRET_0"
                    | "SERVER_TRAFFIC_SECRET_0"
            );
            if !used {
                // Exporter and early-data secrets, `RSA` pre-master lines (keyed by the
                // encrypted pre-master, not the client random), future labels: nothing
                // tracetail decrypts with.
                continue;
            }
            let random: [u8; 32] =
                unhex(random)
                    .and_then(|r| r.try_into().ok())
                    .ok_or_else(|| {
                        error(format!("{label}: the client random must be 64 hex digits"))
                    })?;
            let secret = unhex(secret)
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .ok_or_else(|| error(format!("{label}: the secret is not hex of 1 to 64 bytes")))?;
            let entry = self.by_client_random.entry(random).or_default();
            let slot = match label {
                "CLIENT_RANDOM" => {
                    if secret.len() != 48 {
                        return Err(error(format!(
                            "CLIENT_RANDOM: the master secret must be 48 bytes, not {}",
                            secret.len()
                        )));
                    }
                    &mut entry.master
                }
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.client_handshake,
                "SERVER_HANDSHAKE_TRAFFIC_SECRET" => &mut entry.server_handshake,
                "CLIENT_TRAFFIC_SECRET_0" => &mut entry.client_traffic_0,
                "SERVER_TRAFFIC_SECRET_0" => &mut entry.server_traffic_0,
                _ => unreachable!("filtered above"),
            };
            *slot = Some(Secret(secret));
        }
        Ok(())
    }

    /// Adds every secret of `other` (a later secret for the same connection and label wins).
    pub fn merge(&mut self, other: KeyLog) {
        if self.by_client_random.is_empty() {
            self.by_client_random = other.by_client_random;
            return;
        }
        for (random, secrets) in other.by_client_random {
            match self.by_client_random.entry(random) {
                std::collections::hash_map::Entry::Occupied(mut known) => {
                    KeyLog::overlay(known.get_mut(), &secrets)
                }
                std::collections::hash_map::Entry::Vacant(new) => {
                    new.insert(secrets);
                }
            }
        }
    }

    /// One connection's secrets with `later`'s: each of its secrets replaces the one before.
    fn overlay(into: &mut ConnectionSecrets, later: &ConnectionSecrets) {
        let slots = [
            (&mut into.master, &later.master),
            (&mut into.client_handshake, &later.client_handshake),
            (&mut into.server_handshake, &later.server_handshake),
            (&mut into.client_traffic_0, &later.client_traffic_0),
            (&mut into.server_traffic_0, &later.server_traffic_0),
        ];
        for (slot, secret) in slots {
            if secret.is_some() {
                slot.clone_from(secret);
            }
        }
    }

    /// Reads key log files.
    pub fn from_files(paths: &[std::path::PathBuf]) -> anyhow::Result<KeyLog> {
        let mut log = KeyLog::default();
        for path in paths {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("reading key log {}: {e}", path.display()))?;
            log.add_text(&path.display().to_string(), &text)?;
        }
        Ok(log)
    }
}

/// The key logs of a pass, in the order it met them (the `--keylog` files, then each pcapng
/// Decryption Secrets Block), as one read-only whole that every worker shares: a clone is a
/// pointer. Each key log added makes a new whole that shares the old logs: the logs are kept
/// in generations of falling size, and a new one is merged with the latest while that is at
/// most twice as big, so adding costs O(log n) a secret (amortised) and a lookup O(log n)
/// maps. Every worker merging each block into a map of its own had held a copy per worker
/// (a 176 MB block of 1 M secrets: 0.9 GB with one worker, 4 GB with two, 16 GB with eight).
#[derive(Clone, Default)]
pub struct KeyLogs {
    /// Oldest first; from the second on, each more than twice the size of the next.
    generations: std::sync::Arc<[std::sync::Arc<KeyLog>]>,
}

impl fmt::Debug for KeyLogs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sizes: Vec<usize> = self.generations.iter().map(|g| g.len()).collect();
        write!(f, "KeyLogs(connections per generation: {sizes:?})")
    }
}

impl KeyLogs {
    /// The key logs that start with `first` (the `--keylog` files).
    pub fn new(first: std::sync::Arc<KeyLog>) -> KeyLogs {
        KeyLogs {
            generations: std::iter::once(first).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.generations.iter().all(|g| g.is_empty())
    }

    /// The secrets of the connection whose ClientHello.random is `client_random`: for each
    /// label, the one met last.
    pub fn get(&self, client_random: &[u8]) -> Option<ConnectionSecrets> {
        let mut found: Option<ConnectionSecrets> = None;
        for generation in self.generations.iter() {
            if let Some(later) = generation.get(client_random) {
                match &mut found {
                    Some(earlier) => KeyLog::overlay(earlier, later),
                    None => found = Some(later.clone()),
                }
            }
        }
        found
    }

    /// These key logs followed by `later` (a later secret for the same connection and label
    /// wins, as in [`KeyLog::merge`]).
    pub fn with(&self, later: KeyLog) -> KeyLogs {
        if later.is_empty() {
            return self.clone();
        }
        let mut generations: Vec<std::sync::Arc<KeyLog>> = self.generations.to_vec();
        let mut newest = later;
        // The first generation (the `--keylog` files) is never merged into.
        while generations.len() > 1
            && generations
                .last()
                .is_some_and(|g| g.len() <= 2 * newest.len())
        {
            let Some(previous) = generations.pop() else {
                break;
            };
            let mut merged = std::sync::Arc::unwrap_or_clone(previous);
            merged.merge(newest);
            newest = merged;
        }
        generations.push(std::sync::Arc::new(newest));
        KeyLogs {
            generations: generations.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "52362c10a2665e323a2adb4b9da0c10d4a8823719272f8b4c97af24f92784812";

    #[test]
    fn reads_tls12_and_tls13_lines_and_skips_comments_and_other_labels() {
        let text = format!(
            "# SSL/TLS secrets log file\n\
             CLIENT_RANDOM {RANDOM} {}\n\
             CLIENT_TRAFFIC_SECRET_0 {RANDOM} {}\r\n\
             EXPORTER_SECRET {RANDOM} {}\n\
             RSA 0011223344556677 {}\n\n",
            "ab".repeat(48),
            "cd".repeat(32),
            "ef".repeat(32),
            "01".repeat(48)
        );
        let mut log = KeyLog::default();
        log.add_text("keys.txt", &text).unwrap();
        let s = log.get(&unhex(RANDOM).unwrap()).unwrap();
        assert_eq!(s.master, Some(Secret(vec![0xab; 48])));
        assert_eq!(s.client_traffic_0, Some(Secret(vec![0xcd; 32])));
        assert_eq!(s.server_traffic_0, None);
        // Debug output never shows secret bytes.
        assert!(!format!("{log:?} {s:?}").contains("abab"));
    }

    #[test]
    fn bad_lines_are_refused_with_their_line_number() {
        let master = "ab".repeat(48);
        for (line, why) in [
            (format!("CLIENT_RANDOM {RANDOM}"), "three fields"),
            (
                format!("CLIENT_RANDOM {} {master}", &RANDOM[2..]),
                "64 hex digits",
            ),
            (
                format!("CLIENT_RANDOM {RANDOM} {}", &master[1..]),
                "not hex",
            ),
            (
                format!("CLIENT_RANDOM {RANDOM} {}", "ab".repeat(32)),
                "48 bytes",
            ),
            (format!("client_random {RANDOM} {master}"), "label"),
            (
                format!("CLIENT_RANDOM {RANDOM} zz{}", &master[2..]),
                "not hex",
            ),
            (
                format!("CLIENT_RANDOM {RANDOM} {master} extra"),
                "three fields",
            ),
        ] {
            let text = format!("# header\n{line}\n");
            let err = KeyLog::default().add_text("k.log", &text).unwrap_err();
            assert_eq!(err.line, 2, "{line}");
            let shown = err.to_string();
            assert!(
                shown.starts_with("k.log line 2: ") && shown.contains(why),
                "{shown}"
            );
            assert!(
                !shown.contains(&master[..20]),
                "an error must not quote a secret: {shown}"
            );
        }
    }

    #[test]
    fn mutated_key_logs_never_panic() {
        let good = format!("CLIENT_RANDOM {RANDOM} {}\n", "ab".repeat(48));
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..5000 {
            let mut bytes = good.clone().into_bytes();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let i = (state % bytes.len() as u64) as usize;
                bytes[i] = (state >> 32) as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            let _ = KeyLog::default().add_text("fuzz", &text);
        }
    }

    /// A key log of one line per client random `randoms` (secret bytes `fill`, `label`).
    fn lines(label: &str, randoms: std::ops::Range<u32>, fill: u8, len: usize) -> KeyLog {
        let mut text = String::new();
        for r in randoms {
            let random = format!("{r:064x}");
            let secret = format!("{fill:02x}").repeat(len);
            text.push_str(&format!("{label} {random} {secret}\n"));
        }
        let mut log = KeyLog::default();
        log.add_text("test", &text).unwrap();
        log
    }

    fn random(r: u32) -> Vec<u8> {
        unhex(&format!("{r:064x}")).unwrap()
    }

    /// Key logs added one by one answer as one map merged in the same order would, while
    /// the generations stay few, and an earlier whole is not changed by a later addition.
    #[test]
    fn key_logs_answer_as_one_merged_map_in_few_generations() {
        let first = lines("CLIENT_RANDOM", 0..100, 0x01, 48);
        let mut logs = KeyLogs::new(std::sync::Arc::new(first.clone()));
        let mut merged = first;
        let mut snapshots = Vec::new();
        let mut next = crate::analyzers::xorshift(11);
        for block in 0..300u32 {
            // Blocks of 1 to 64 lines, new connections and ones seen before, each label.
            let start = (next() % 2000) as u32;
            let n = 1 + (next() % 64) as u32;
            let (label, len) = [
                ("CLIENT_RANDOM", 48),
                ("CLIENT_TRAFFIC_SECRET_0", 32),
                ("SERVER_TRAFFIC_SECRET_0", 32),
                ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 48),
            ][block as usize % 4];
            let log = lines(label, start..start + n, (block % 251) as u8, len);
            merged.merge(log.clone());
            logs = logs.with(log);
            snapshots.push((logs.clone(), merged.clone()));
            assert!(
                logs.generations.len() <= 2 + merged.len().ilog2() as usize,
                "{logs:?}"
            );
        }
        assert!(KeyLogs::default().is_empty() && !logs.is_empty());
        for (logs, merged) in snapshots.iter().step_by(37).chain(snapshots.last()) {
            for r in 0..2100 {
                assert_eq!(logs.get(&random(r)), merged.get(&random(r)).cloned(), "{r}");
            }
        }
    }
}
