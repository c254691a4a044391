//! `tracetail stats` and `tracetail merge` end to end.

use std::process::Command;

fn tracetail(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tracetail"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tracetail-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn anscombe_rows_agree() {
    let dir = temp_dir("anscombe");
    let png = dir.join("q.png");
    let (ok, out, err) = tracetail(&["stats", "--anscombe", "-o", png.to_str().unwrap()]);
    assert!(ok, "{err}");
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| {
            ["I ", "II ", "III ", "IV "]
                .iter()
                .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    for r in rows {
        assert!(
            r.contains("9.00") && r.contains("11.000") && r.contains("7.50"),
            "{r}"
        );
        assert!(r.contains("y = 3.00 + 0.500x"), "{r}");
    }
    assert!(std::fs::metadata(&png).unwrap().len() > 10_000);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_column_and_regression() {
    let dir = temp_dir("statscsv");
    let csv = dir.join("d.csv");
    // y = 1 + 2x exactly, plus a junk row that must be skipped.
    let mut text = String::from("x,y\n");
    for i in 0..10 {
        text.push_str(&format!("{i},{}\n", 1 + 2 * i));
    }
    text.push_str("n/a,5\n");
    std::fs::write(&csv, text).unwrap();
    let svg = dir.join("s.svg");
    let (ok, out, err) = tracetail(&[
        "stats",
        csv.to_str().unwrap(),
        "--x",
        "x",
        "--y",
        "y",
        "--column",
        "x",
        "-o",
        svg.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("Pearson r   1"), "{out}");
    assert!(out.contains("y = 1 + 2 * x"), "{out}");
    assert!(out.contains("skipped (not a number)"), "{out}");
    assert!(out.contains("percentile definition: linear"), "{out}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let (ok, out, _) = tracetail(&["stats", csv.to_str().unwrap(), "--column", "y", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["columns"][0]["stats"]["count"], 11);
    assert_eq!(v["columns"][0]["stats"]["percentiles"]["50"], 9.0);
    let (ok, _, err) = tracetail(&["stats", csv.to_str().unwrap(), "--column", "nope"]);
    assert!(!ok && err.contains("no column"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merge_prints_hdr_table() {
    use tracetail::stats::hdr;
    let dir = temp_dir("merge");
    let a: Vec<i64> = (1..=1000).map(|v| v * 1000).collect();
    let b: Vec<i64> = (1..=1000).map(|v| v * 5000).collect();
    hdr::save(&hdr::from_samples(&a).histogram, &dir.join("a.hdr")).unwrap();
    hdr::save(&hdr::from_samples(&b).histogram, &dir.join("b.hdr")).unwrap();
    let pa = dir.join("a.hdr");
    let pb = dir.join("b.hdr");
    let (ok, out, err) = tracetail(&[
        "merge",
        pa.to_str().unwrap(),
        pb.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["count"], 2000);
    assert_eq!(v["significant_digits"], 3);
    let union: Vec<i64> = a.iter().chain(&b).copied().collect();
    let direct = hdr::from_samples(&union).histogram;
    assert_eq!(
        v["percentiles"]["99"],
        hdr::value_at_percentile(&direct, 99.0)
    );
    let (ok, out, _) = tracetail(&["merge", pa.to_str().unwrap(), pb.to_str().unwrap(), "--hdr"]);
    assert!(ok);
    assert!(out.contains("HdrHistogram with 3 significant digits"));
    assert!(out.contains("       Value   Percentile   TotalCount 1/(1-Percentile)"));
    assert!(out.contains("Total count    =         2000]"));
    let (ok, _, err) = tracetail(&["merge", dir.join("missing.hdr").to_str().unwrap()]);
    assert!(!ok && err.contains("missing.hdr"));
    std::fs::remove_dir_all(&dir).unwrap();
}
