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
        for (random, secrets) in other.by_client_random {
            let entry = self.by_client_random.entry(random).or_default();
            let slots = [
                (&mut entry.master, secrets.master),
                (&mut entry.client_handshake, secrets.client_handshake),
                (&mut entry.server_handshake, secrets.server_handshake),
                (&mut entry.client_traffic_0, secrets.client_traffic_0),
                (&mut entry.server_traffic_0, secrets.server_traffic_0),
            ];
            for (slot, secret) in slots {
                if secret.is_some() {
                    *slot = secret;
                }
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
}
